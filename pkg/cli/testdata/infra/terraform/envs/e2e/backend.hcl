# The e2e environment keeps its state in local files (each layer's backend
# "local" block); this partial configuration adds nothing, but hstack infra
# requires the file as it does for a real environment.
