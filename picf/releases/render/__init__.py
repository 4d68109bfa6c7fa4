"""Rendering a job's templates: what they see (`binding`), the job's templates (`templates`), rendered by Ruby's
ERB (`erb`, running `render.rb`) in the sandbox."""
