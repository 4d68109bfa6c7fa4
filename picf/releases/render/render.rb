# picf's renderer for BOSH job templates: every template of a deploy in one Ruby process.
#
# Written for picf after the BOSH director's documented behaviour (its EvaluationContext): ERB with
# trim_mode "-", `p`, `if_p` (with `.else`, `.else_if_p`, `.else_if_link`), `link`, `if_link`, `spec` as an
# OpenStruct, bare `name` and `index`, `properties` as an OpenStruct, and what the director has loaded for
# templates (json, yaml, ostruct, shellwords, ActiveSupport's `blank?`/`present?`).
#
# Protocol: one JSON document on stdin
#   {"templates": [{"name": "JOB/SRC", "source": "..."}], "contexts": [{"properties": {}, "spec": {}, "links": {}}],
#    "renders": [[TEMPLATE, CONTEXT], ...], "timeout": SECONDS}
# and one JSON line per render on stdout, in order: {"out": "..."} or {"error": "...", "line": N}.
# picf runs it in a sandbox (no network, nothing writable, a time and memory limit): a template is code.

require "base64"
require "digest/sha1"
require "erb"
require "json"
require "openssl"
require "ostruct"
require "securerandom"
require "shellwords"
require "time"
require "timeout"
require "yaml"

# ActiveSupport's blank?/present?/presence, which the director loads for templates.
class Object
  def blank?
    respond_to?(:empty?) ? !!empty? : !self
  end

  def present?
    !blank?
  end

  def presence
    self if present?
  end
end

class NilClass
  def blank?
    true
  end
end

class FalseClass
  def blank?
    true
  end
end

class TrueClass
  def blank?
    false
  end
end

class Numeric
  def blank?
    false
  end
end

class String
  def blank?
    empty? || /\A[[:space:]]*\z/.match?(self)
  end
end

class Hash
  # The director's deep merge: the right side wins; two hashes merge key by key.
  def recursive_merge(other)
    merge(other) { |_, mine, theirs| mine.is_a?(Hash) && theirs.is_a?(Hash) ? mine.recursive_merge(theirs) : theirs }
  end
end

module Picf
  class UnknownProperty < StandardError
    def initialize(names)
      super("Can't find property '#{names}'")
    end
  end

  class UnknownLink < StandardError
    def initialize(name)
      super("Can't find link '#{name}'")
    end
  end

  # `spec.networks.methods(false)` lists the networks, as templates expect of the director's spec.
  class SpecStruct < OpenStruct
    def methods(regular = true)
      regular ? super : @table.keys
    end
  end

  def self.openstruct(value, klass = OpenStruct)
    case value
    when Hash then klass.new(value.to_h { |k, v| [k, openstruct(v, klass)] })
    when Array then value.map { |v| openstruct(v, klass) }
    else value
    end
  end

  module Lookup
    # "a.b.c" walked through nested hashes; nil as soon as a step is missing.
    def lookup_property(collection, name)
      return nil if collection.nil?

      name.to_s.split(".").reduce(collection) do |ref, key|
        return nil if ref.nil?

        ref[key]
      end
    end

    # The first name with a non-nil value (false is a value), else the default when one was given.
    def find_property(collection, args)
      names = Array(args[0])
      names.each do |name|
        value = lookup_property(collection, name)
        return value unless value.nil?
      end
      return args[1] if args.length == 2

      raise UnknownProperty, names
    end

    def p(*args)
      find_property(properties_for_lookup, args)
    end

    def if_p(*names)
      values = names.map { |name| lookup_property(properties_for_lookup, name) }
      return ActiveElse.new(self) if values.any?(&:nil?)

      yield(*values)
      INACTIVE
    end
  end

  # What `if_p` and `if_link` return when they did not yield: the alternatives run.
  class ActiveElse
    def initialize(owner)
      @owner = owner
    end

    def else
      yield
    end

    def else_if_p(*names, &block)
      @owner.if_p(*names, &block)
    end

    def else_if_link(name, &block)
      @owner.if_link(name, &block)
    end
  end

  # What they return when they did yield: every alternative is skipped.
  class InactiveElse
    def else; end

    def else_if_p(*)
      self
    end

    def else_if_link(*)
      self
    end
  end
  INACTIVE = InactiveElse.new

  class LinkInstance
    include Lookup
    attr_reader :name, :index, :id, :az, :address, :bootstrap, :properties

    def initialize(data)
      @name, @index, @id, @az, @address, @bootstrap = data.values_at("name", "index", "id", "az", "address", "bootstrap")
      @properties = data["properties"]
    end

    def properties_for_lookup
      @properties
    end
  end

  class Link
    include Lookup
    attr_reader :instances, :properties

    def initialize(data)
      @data = data
      @instances = (data["instances"] || []).map { |i| LinkInstance.new(i) }
      @properties = data["properties"]
    end

    def properties_for_lookup
      @properties
    end

    # picf has no BOSH DNS: a link's address is its bootstrap instance's (in the asked AZs when some were named).
    def address(criteria = {})
      azs = criteria[:azs] || criteria["azs"]
      chosen = @instances.select { |i| azs.nil? || azs.include?(i.az) }
      chosen = @instances if chosen.empty?
      (chosen.find(&:bootstrap) || chosen.first)&.address || @data["address"]
    end
  end

  # What `self` is in a template.
  class Context
    include Lookup
    attr_reader :name, :index, :raw_properties

    def initialize(data)
      @raw_properties = data["properties"] || {}
      @links = data["links"] || {}
      @raw_spec = data["spec"] || {}
      @name = @raw_spec["name"]
      @index = @raw_spec["index"]
    end

    # OpenStructs are made when a template first asks (making them is most of a render's cost).
    def spec
      @spec ||= Picf.openstruct(@raw_spec.merge("properties" => @raw_properties, "links" => @links), SpecStruct)
    end

    def properties
      @properties ||= Picf.openstruct(@raw_properties)
    end

    def properties_for_lookup
      @raw_properties
    end

    def link(name)
      found = lookup_property(@links, name)
      raise UnknownLink, name if found.nil? || !found.key?("instances")

      Link.new(found)
    end

    def if_link(name)
      found = lookup_property(@links, name)
      return ActiveElse.new(self) if found.nil? || !found.key?("instances")

      yield Link.new(found)
      INACTIVE
    end
  end

  def self.line_of(error, file)
    if error.is_a?(SyntaxError)
      found = error.message[/^#{Regexp.escape(file)}:(\d+):/, 1]
      return found&.to_i
    end
    (error.backtrace || []).each do |entry|
      found = entry[/\A#{Regexp.escape(file)}:(\d+)/, 1]
      return found.to_i if found
    end
    nil
  end

  def self.message_of(error, file)
    text = error.message.to_s
    text = text.lines.map { |l| l.sub(/^#{Regexp.escape(file)}:\d+: /, "") }.join.strip if error.is_a?(SyntaxError)
    text.empty? ? error.class.name : text.lines.first.strip
  end

  def self.main
    protocol = $stdout.dup
    protocol.sync = true # an answer given is kept, even if a later template kills the process
    $stdout.reopen($stderr) # a template's `puts` must not break the protocol
    request = JSON.parse($stdin.read)
    limit = request.fetch("timeout", 10).to_f
    # Each template is compiled once, into a block (not a method: a template may assign a constant, as the
    # director's `result(binding)` lets it), run with the instance's context as self. Line numbers are the
    # template's: the block's first line is line 0 and ERB's own first line its coding comment.
    compiled = request.fetch("templates").map do |template|
      erb = ERB.new(template.fetch("source"), trim_mode: "-")
      [eval("Proc.new do\n#{erb.src}\nend", TOPLEVEL_BINDING, template.fetch("name"), -1), nil] # rubocop:disable Security/Eval
    rescue Exception => e # rubocop:disable Lint/RescueException: a template's own error, reported as one
      [nil, e]
    end
    contexts = request.fetch("contexts").map { |c| Marshal.dump(c) }
    request.fetch("renders").each do |template_index, context_index|
      block, compile_error = compiled[template_index]
      file = request["templates"][template_index]["name"]
      result =
        begin
          raise compile_error if compile_error

          context = Context.new(Marshal.load(contexts[context_index]))
          text = Timeout.timeout(limit) { context.instance_exec(&block) }
          { "out" => text.to_s.dup.force_encoding(Encoding::UTF_8).scrub }
        rescue Timeout::Error
          { "error" => "did not finish within #{format("%g", limit)} s", "line" => nil }
        rescue Exception => e # rubocop:disable Lint/RescueException: `exit` and NoMemoryError are a template's too
          { "error" => message_of(e, file), "line" => line_of(e, file) }
        end
      protocol.write(JSON.generate(result), "\n")
    end
  end
end

Picf.main
