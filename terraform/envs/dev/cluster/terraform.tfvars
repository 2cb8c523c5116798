# The apps' public domain: a Route 53 hosted zone in this account and the
# host name inside it. Replace with your own before the first apply.
zone_name   = "example.com"
domain_name = "dev.example.com"

# Application repositories whose .github/workflows/deliver.yml pushes images
# here (the role trusts their main branch only).
deliver_github_repositories = ["hstack-dev/hstack"]
