"""A small Go tokenizer and declaration parser: enough of Go to lay out structs and find atomic calls.

It reads what the lint and the align64 transform need, precisely: type declarations (structs with their field
lines, comments and tags; named and qualified types; pointers, slices, arrays, maps, chans, funcs,
interfaces), functions with their receivers and local variables, and calls. Everything else is skipped
token by token, so unusual code costs precision only where it matters, never a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- tokens ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<rune>'(?:\\.|[^'\\\n])+')
  | (?P<num>0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><<=|>>=|&\^=|\.\.\.|&&|\|\||<-|<<|>>|&\^|[-+*/%&|^]=|==|!=|<=|>=|:=|[-+*/%&|^<>=!(){}\[\],;.:~])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident | num | str | raw | rune | op | comment | nl
    text: str
    line: int


def tokenize(source: str) -> list[Token]:
    """Go tokens with 1-based lines; comments and newlines kept (struct edits need them)."""
    tokens: list[Token] = []
    line = 1
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind != "ws":
            tokens.append(Token(kind, text, line))
        line += text.count("\n")
    return tokens


_TYPE_STARTS = frozenset({"*", "[", "(", "map", "chan", "func", "interface", "struct", "<-"})

# --- type expressions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeExpr:
    """A Go type as written: kind is name | pointer | slice | array | map | chan | func | interface | struct."""

    kind: str
    name: str = ""  # for `name`: the identifier
    package: str = ""  # for `name`: the package qualifier (`sync` in sync.Mutex), "" for local
    elem: TypeExpr | None = None
    length: int | None = None  # arrays; None when not a literal
    fields: tuple[Field, ...] = ()

    def __str__(self) -> str:
        if self.kind == "name":
            return f"{self.package}.{self.name}" if self.package else self.name
        if self.kind == "pointer":
            return f"*{self.elem}"
        if self.kind == "slice":
            return f"[]{self.elem}"
        if self.kind == "array":
            return f"[{self.length if self.length is not None else '?'}]{self.elem}"
        return self.kind


@dataclass(frozen=True)
class Field:
    """One struct field (a line may declare several: `a, b uint64`)."""

    names: tuple[str, ...]  # empty for an embedded field
    type: TypeExpr
    line: int  # line of the field itself
    first_line: int  # first line of its leading comment block (== line without one)
    last_line: int  # last line (a tag or trailing comment stays on the same line)

    @property
    def embedded(self) -> bool:
        return not self.names

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names as Go sees them; an embedded field is named after its type."""
        return self.names or (
            self.type.elem.name if self.type.kind == "pointer" and self.type.elem else self.type.name,
        )


@dataclass
class StructDecl:
    name: str
    struct: TypeExpr
    line: int  # line of `type X struct {`
    open_line: int  # line of `{`
    close_line: int  # line of `}`


@dataclass
class FuncDecl:
    name: str
    receiver_name: str | None
    receiver_type: str | None
    body: tuple[int, int]  # token index range of the body (inside the braces)
    line: int


@dataclass
class GoFile:
    """What the parser found in one file."""

    path: str
    package: str
    imports: dict[str, str]  # local name -> import path
    structs: dict[str, StructDecl] = field(default_factory=dict)
    aliases: dict[str, TypeExpr] = field(default_factory=dict)  # type X Y (non-struct)
    consts: dict[str, str] = field(default_factory=dict)  # name -> declared type ("" when untyped)
    funcs: list[FuncDecl] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    code: list[Token] = field(default_factory=list)  # tokens without comments and newlines


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        # Comments and newlines matter for field lines only; the grammar walks the rest.
        self.all = tokens
        self.code = [i for i, t in enumerate(tokens) if t.kind not in {"comment", "nl"}]
        self.pos = 0
        self.comment_lines = {t.line for t in tokens if t.kind == "comment" and "\n" not in t.text}
        self.code_lines = {tokens[i].line for i in self.code}

    # position helpers over code tokens
    def peek(self, ahead: int = 0) -> Token | None:
        index = self.pos + ahead
        return self.all[self.code[index]] if index < len(self.code) else None

    def next(self) -> Token | None:
        token = self.peek()
        self.pos += 1
        return token

    def at(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.text == text

    def skip_balanced(self, open_: str, close: str) -> None:
        """Skip from an opening bracket (current token) to just past its match."""
        depth = 0
        while (token := self.next()) is not None:
            if token.text == open_:
                depth += 1
            elif token.text == close:
                depth -= 1
                if depth == 0:
                    return

    def type_expr(self) -> TypeExpr:
        token = self.next()
        if token is None:
            return TypeExpr("name", name="?")
        if token.text == "*":
            return TypeExpr("pointer", elem=self.type_expr())
        if token.text == "(":
            inner = self.type_expr()
            if self.at(")"):
                self.next()
            return inner
        if token.text == "[":
            if self.at("]"):
                self.next()
                return TypeExpr("slice", elem=self.type_expr())
            length: int | None = None
            if self.at("...") or (self.peek() is not None and self.peek().kind == "num" and self.at("]", 1)):  # type: ignore[union-attr]
                text = self.next().text  # type: ignore[union-attr]
                length = _go_int(text)
            else:
                self.pos -= 1
                self.skip_balanced("[", "]")
                return TypeExpr("array", elem=self.type_expr(), length=None)
            self.next()  # ]
            return TypeExpr("array", elem=self.type_expr(), length=length)
        if token.text == "map":
            if self.at("["):
                self.skip_balanced("[", "]")
            self.type_expr()
            return TypeExpr("map")
        if token.text == "chan" or token.text == "<-":
            if (token.text == "<-" and self.at("chan")) or self.at("<-"):
                self.next()
            self.type_expr()
            return TypeExpr("chan")
        if token.text == "func":
            self.skip_signature()
            return TypeExpr("func")
        if token.text == "interface":
            if self.at("{"):
                self.skip_balanced("{", "}")
            return TypeExpr("interface")
        if token.text == "struct":
            return TypeExpr("struct", fields=tuple(self.struct_fields()[0]))
        if token.kind == "ident":
            if self.at(".") and self.peek(1) is not None and self.peek(1).kind == "ident":  # type: ignore[union-attr]
                self.next()
                name = self.next().text  # type: ignore[union-attr]
                expr = TypeExpr("name", name=name, package=token.text)
            else:
                expr = TypeExpr("name", name=token.text)
            if self.at("["):  # generic instantiation: layout unknown, keep the name
                self.skip_balanced("[", "]")
            return expr
        return TypeExpr("name", name="?")

    def skip_signature(self) -> None:
        """Skip parameters and results: `(a int) (b, c error)`, `(a int) error`, `()`."""
        if self.at("("):
            self.skip_balanced("(", ")")
        if self.at("("):
            self.skip_balanced("(", ")")
            return
        token = self.peek()
        # A single result type follows on the same line (a field's type ends at the line's end).
        starts_type = token is not None and (token.kind == "ident" or token.text in {"*", "[", "map", "chan"})
        if token is not None and starts_type and token.line == self.all[self.code[self.pos - 1]].line:
            self.type_expr()

    def struct_fields(self) -> tuple[list[Field], int, int]:
        """Parse `{ ... }` after `struct`; returns fields and the lines of the braces."""
        open_token = self.next()  # {
        open_line = open_token.line if open_token else 0
        fields: list[Field] = []
        while (token := self.peek()) is not None and token.text != "}":
            start = self.pos
            line = token.line
            names: list[str] = []
            if token.kind == "ident" and (self.at(",", 1) or self._starts_type(1, line)):
                names.append(self.next().text)  # type: ignore[union-attr]
                while self.at(","):
                    self.next()
                    names.append(self.next().text)  # type: ignore[union-attr]
            ftype = self.type_expr()
            if self.peek() is not None and self.peek().kind in {"str", "raw"} and self.peek().line == line:  # type: ignore[union-attr]
                self.next()  # tag
            while self.at(";"):
                self.next()
            if self.pos == start:
                self.next()
                continue
            fields.append(Field(tuple(names), ftype, line, self._comment_start(line), line))
        close = self.next()
        return fields, open_line, close.line if close else open_line

    def _starts_type(self, ahead: int, line: int) -> bool:
        token = self.peek(ahead)
        if token is None or token.line != line:
            return False
        return token.kind == "ident" or token.text in {
            "*",
            "[",
            "(",
            "map",
            "chan",
            "func",
            "interface",
            "struct",
            "<-",
        }

    def _comment_start(self, line: int) -> int:
        """First line of the comment block directly above `line` (no blank line between)."""
        first = line
        while first - 1 in self.comment_lines and first - 1 not in self.code_lines:
            first -= 1
        return first


def _go_int(text: str) -> int | None:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return None


def parse_file(path: str, source: str) -> GoFile:
    """Parse the declarations of one Go file."""
    tokens = tokenize(source)
    parser = _Parser(tokens)
    gofile = GoFile(
        path=path, package="", imports={}, tokens=tokens, code=[t for t in tokens if t.kind not in {"comment", "nl"}]
    )
    while (token := parser.peek()) is not None:
        if token.text == "package":
            parser.next()
            name = parser.next()
            gofile.package = name.text if name else ""
        elif token.text == "import":
            parser.next()
            _parse_imports(parser, gofile)
        elif token.text == "type":
            parser.next()
            _parse_group(parser, lambda: _parse_type_spec(parser, gofile, token.line))
        elif token.text == "const":
            parser.next()
            _parse_group(parser, lambda: _parse_const_spec(parser, gofile))
        elif token.text == "func":
            _parse_func(parser, gofile)
        else:
            parser.next()
    return gofile


def _parse_group(parser: _Parser, one: object) -> None:
    spec = one  # a callable parsing one spec
    if parser.at("("):
        parser.next()
        while parser.peek() is not None and not parser.at(")"):
            before = parser.pos
            spec()  # type: ignore[operator]
            while parser.at(";"):
                parser.next()
            if parser.pos == before:
                parser.next()
        parser.next()
    else:
        spec()  # type: ignore[operator]


def _parse_imports(parser: _Parser, gofile: GoFile) -> None:
    def spec() -> None:
        alias = None
        if parser.peek() is not None and parser.peek().kind in {"ident", "op"} and not parser.at("("):  # type: ignore[union-attr]
            alias = parser.next().text  # type: ignore[union-attr]
        path_token = parser.next()
        if path_token is None or path_token.kind not in {"str", "raw"}:
            return
        path = path_token.text.strip('"`')
        gofile.imports[alias if alias and alias not in {".", "_"} else path.rsplit("/", 1)[-1]] = path

    _parse_group(parser, spec)


def _parse_type_spec(parser: _Parser, gofile: GoFile, type_line: int) -> None:
    name = parser.next()
    if name is None or name.kind != "ident":
        return
    if parser.at("["):  # generic type parameters
        parser.skip_balanced("[", "]")
    if parser.at("="):
        parser.next()
    if parser.at("struct"):
        line = parser.peek().line  # type: ignore[union-attr]
        parser.next()
        fields, open_line, close_line = parser.struct_fields()
        gofile.structs[name.text] = StructDecl(
            name=name.text, struct=TypeExpr("struct", fields=tuple(fields)), line=line, open_line=open_line,
            close_line=close_line,
        )  # fmt: skip
    else:
        gofile.aliases[name.text] = parser.type_expr()


def _parse_const_spec(parser: _Parser, gofile: GoFile) -> None:
    names = []
    line = parser.peek().line if parser.peek() else 0  # type: ignore[union-attr]
    while (token := parser.peek()) is not None and token.kind == "ident" and token.line == line:
        names.append(parser.next().text)  # type: ignore[union-attr]
        if parser.at(","):
            parser.next()
        else:
            break
    declared = ""
    token = parser.peek()
    if token is not None and token.kind == "ident" and token.line == line and not parser.at("="):
        declared = str(parser.type_expr())
    if parser.at("="):
        parser.next()
        value_start = parser.pos
        depth = 0
        while (token := parser.peek()) is not None:
            if token.text in "([{":
                depth += 1
            elif token.text in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif token.line != line and depth == 0:
                break
            parser.next()
        value = [parser.all[parser.code[i]] for i in range(value_start, parser.pos)]
        # `X = int64(...)` is typed too
        conversions = {"int64", "uint64", "int32", "uint32", "int", "uint", "uintptr"}
        if not declared and len(value) >= 2 and value[0].text in conversions and value[1].text == "(":
            declared = value[0].text
    for name in names:
        gofile.consts[name] = declared


def _parse_func(parser: _Parser, gofile: GoFile) -> None:
    start = parser.next()  # func
    receiver_name = receiver_type = None
    if parser.at("("):
        # (r *T) or (r T) or (*T)
        parser.next()
        parts = []
        while parser.peek() is not None and not parser.at(")"):
            parts.append(parser.next().text)  # type: ignore[union-attr]
        parser.next()
        idents = [p for p in parts if re.match(r"[A-Za-z_]", p)]
        if len(idents) >= 2:
            receiver_name, receiver_type = idents[0], idents[1]
        elif idents:
            receiver_type = idents[0]
    name = parser.next()
    if name is None:
        return
    if parser.at("["):
        parser.skip_balanced("[", "]")
    parser.skip_signature()
    while parser.peek() is not None and not parser.at("{") and not parser.at("func") and not parser.at("type"):
        parser.next()
    if not parser.at("{"):
        return
    body_start = parser.pos + 1
    parser.skip_balanced("{", "}")
    gofile.funcs.append(
        FuncDecl(name.text, receiver_name, receiver_type, (body_start, parser.pos - 1), start.line if start else 0)
    )


# --- code inside function bodies -------------------------------------------------------------------------


def code_tokens(gofile: GoFile, span: tuple[int, int]) -> list[Token]:
    """The code tokens (no comments or newlines) of a function body."""
    return gofile.code[span[0] : span[1]]


def all_code_tokens(gofile: GoFile) -> list[Token]:
    """Every code token of the file, in order."""
    return gofile.code


def ident_list(tokens: list[Token], start: int, separator: str) -> tuple[list[str], int]:
    """Identifiers from `start` joined by `separator` (`a.b.c`, `a, b, c`); returns them and the last index."""
    names: list[str] = []
    j = start
    while j < len(tokens) and tokens[j].kind == "ident":
        names.append(tokens[j].text)
        if j + 1 < len(tokens) and tokens[j + 1].text == separator:
            j += 2
        else:
            break
    return names, j
