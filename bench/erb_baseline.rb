# The baseline for bench/render.py: what a person would write to render BOSH templates with plain Ruby, in one
# process and without a sandbox: ERB with trim_mode "-", a context answering p, if_p, spec, name and
# (if_)link, each template compiled once and evaluated for every instance. Reads bench/render.py's request
# (JSON) on stdin, prints how many renders it did.
require "erb"
require "json"
require "ostruct"
require "shellwords"

class Context
  attr_reader :spec, :name, :index

  def initialize(data)
    @properties = data["properties"]
    @links = data["links"] || {}
    @spec = to_struct(data["spec"])
    @name = data["spec"]["name"]
    @index = data["spec"]["index"]
  end

  def to_struct(value)
    case value
    when Hash then OpenStruct.new(value.to_h { |k, v| [k, to_struct(v)] })
    when Array then value.map { |v| to_struct(v) }
    else value
    end
  end

  def p(*args)
    Array(args[0]).each do |name|
      found = name.split(".").reduce(@properties) { |ref, key| ref.nil? ? nil : ref[key] }
      return found unless found.nil?
    end
    return args[1] if args.length == 2

    raise "Can't find property '#{Array(args[0])}'"
  end

  def if_p(*names)
    values = names.map { |n| n.split(".").reduce(@properties) { |ref, key| ref.nil? ? nil : ref[key] } }
    yield(*values) unless values.any?(&:nil?)
    Else.new(values.any?(&:nil?))
  end

  class Else
    def initialize(active)
      @active = active
    end

    def else
      yield if @active
    end
  end

  def link(name)
    to_struct(@links.fetch(name))
  end

  def if_link(name)
    yield link(name) if @links.key?(name)
    Else.new(!@links.key?(name))
  end

  def get_binding
    binding
  end
end

request = JSON.parse($stdin.read)
compiled = request["templates"].map { |t| ERB.new(t["source"], trim_mode: "-") }
count = 0
request["renders"].each do |template, context|
  compiled[template].result(Context.new(request["contexts"][context]).get_binding)
  count += 1
end
puts count
