# Loads a Vagrantfile with a stub Vagrant.configure that records what the
# file asks of Vagrant (machines, networks, providers, provisioners,
# triggers) and prints it as JSON; vagrantfile_test.go checks it. Trigger
# blocks are recorded, never run: they would call hstack on this host.
require "json"

class Recorder
  # Methods whose block configures a nested object, as Vagrant's do.
  NESTED = %w[define provider before after].freeze

  attr_reader :attrs, :calls

  def initialize
    @attrs = {}
    @calls = []
    @children = {}
  end

  def method_missing(name, *args, **opts, &block)
    name = name.to_s
    return @attrs[name.chomp("=")] = args.first if name.end_with?("=")
    return (@children[name] ||= Recorder.new) if args.empty? && opts.empty? && block.nil?

    child = Recorder.new
    @calls << { "method" => name, "args" => args, "opts" => opts, "block" => !block.nil?, "child" => child }
    block.call(child) if block && NESTED.include?(name)
    child
  end

  def respond_to_missing?(*) = true

  def child(name) = @children[name]

  def calls_of(name) = @calls.select { |c| c["method"] == name }
end

module Vagrant
  ROOT = Recorder.new
  def self.configure(version)
    raise "Vagrant.configure(#{version.inspect}): want \"2\"" unless version == "2"
    yield ROOT
  end
end

load ARGV.fetch(0)

root = Vagrant::ROOT
vm = root.child("vm")
out = {
  "box" => vm.attrs["box"],
  "synced_folders" => vm.calls_of("synced_folder").map { |c| { "args" => c["args"], "opts" => c["opts"] } },
  "triggers" => root.child("trigger").calls.map do |c|
    { "when" => c["method"], "on" => c["args"], "name" => c["child"].attrs["name"],
      "ruby" => c["child"].calls_of("ruby").any? { |r| r["block"] } }
  end,
  "certs" => HSTACK_CERTS,
  "machines" => vm.calls_of("define").map do |d|
    m = d["child"].child("vm")
    {
      "name" => d["args"].first,
      "hostname" => m.attrs["hostname"],
      "networks" => m.calls_of("network").map { |c| { "type" => c["args"].first, "opts" => c["opts"] } },
      "providers" => m.calls_of("provider").to_h { |c| [c["args"].first, c["child"].attrs] },
      "provisioners" => m.calls_of("provision").map { |c| c["opts"].merge("name" => c["args"].first) },
    }
  end,
}
puts JSON.generate(out)
