package main

// A pass is one hazard, in the shape of golang.org/x/tools' analysis passes: a small function over syntax that
// go/types has already checked for the target (its types.Sizes included), which reports findings. The loader
// runs every pass over every package of the tree.

import (
	"go/ast"
	"go/token"
	"go/types"
	"sync"
)

// Analyzer is one pass: its name (the directory of its fixtures under testdata/src), what it finds, and its
// function.
type Analyzer struct {
	Name string
	Doc  string
	Run  func(*Pass)
}

// analyzers is every pass, in the order their findings are listed on one line.
var analyzers = []*Analyzer{atomicAlign, timespec, statfs, uidmapScan}

// Pass is what a pass sees of one package, and how it reports.
type Pass struct {
	Fset  *token.FileSet
	Files []*ast.File
	Pkg   *types.Package
	Info  *types.Info
	Sizes types.Sizes
	Tree  *Tree

	loader   *loader
	findings []Finding
}

// Tree is what a pass may ask beyond its own package: where types and struct fields are declared (a layout
// spans packages), and a memo for what is costly to derive more than once.
type Tree struct {
	fields sync.Map // *types.Var (a struct field) -> ast.Expr of its type
	decls  sync.Map // *types.TypeName -> *ast.TypeSpec
	Memo   sync.Map // for a pass's own use; keys of its own types
}

// FieldType is the syntax of a struct field's type, when the tree declares the field.
func (t *Tree) FieldType(v *types.Var) ast.Expr {
	if expr, ok := t.fields.Load(v); ok {
		return expr.(ast.Expr)
	}
	return nil
}

// TypeSpec is the declaration of a named type, when the tree holds it.
func (t *Tree) TypeSpec(obj *types.TypeName) *ast.TypeSpec {
	if spec, ok := t.decls.Load(obj); ok {
		return spec.(*ast.TypeSpec)
	}
	return nil
}

// Position is the file (relative to the tree) and line of pos.
func (p *Pass) Position(pos token.Pos) (string, int) { return p.loader.rel(pos) }

// Report records a finding at pos.
func (p *Pass) Report(pos token.Pos, f Finding) {
	f.File, f.Line = p.Position(pos)
	p.findings = append(p.findings, f)
}

// ThirtyTwoBit says whether the target's int is 32 bits wide (linux/arm): the hazards are of such targets.
func (p *Pass) ThirtyTwoBit() bool { return p.Sizes.Sizeof(types.Typ[types.Int]) == 4 }

// run applies the passes to one type-checked package.
func (l *loader) run(p *pkgInfo, passes []*Analyzer) []Finding {
	var out []Finding
	for _, a := range passes {
		pass := &Pass{Fset: l.fset, Files: p.syntax, Pkg: p.types, Info: p.info, Sizes: l.sizes, Tree: &l.tree, loader: l}
		a.Run(pass)
		out = append(out, pass.findings...)
	}
	return out
}

// --- what several passes ask of the syntax and the types ----------------------------------------------

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

// calledFunc is the name of the function of package pkgPath that call calls (pkg.F), or "".
func calledFunc(info *types.Info, call *ast.CallExpr, pkgPath string) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	ident, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	if name, ok := info.Uses[ident].(*types.PkgName); ok && name.Imported().Path() == pkgPath {
		return sel.Sel.Name
	}
	return ""
}

// calleeIdent: the identifier a call names (f or pkg.f).
func calleeIdent(fun ast.Expr) *ast.Ident {
	switch fun := unparen(fun).(type) {
	case *ast.Ident:
		return fun
	case *ast.SelectorExpr:
		return fun.Sel
	}
	return nil
}

// isNamed is "pkgpath.Name" when t is one of the named types `names`, else "".
func isNamed(t types.Type, names ...string) string {
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	full := named.Obj().Pkg().Path() + "." + named.Obj().Name()
	for _, n := range names {
		if full == n {
			return full
		}
	}
	return ""
}

// is64 says whether t is a typed 64-bit integer.
func is64(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && (b.Kind() == types.Int64 || b.Kind() == types.Uint64) && b.Info()&types.IsUntyped == 0
}

func is32(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && (b.Kind() == types.Int32 || b.Kind() == types.Uint32)
}

// fieldOf is the struct type (a pointer's element) and the field that sel selects, when it selects a field.
func fieldOf(info *types.Info, sel *ast.SelectorExpr) (types.Type, *types.Var) {
	selection := info.Selections[sel]
	if selection == nil || selection.Kind() != types.FieldVal {
		return nil, nil
	}
	recv := selection.Recv()
	if ptr, ok := recv.Underlying().(*types.Pointer); ok {
		recv = ptr.Elem()
	}
	return recv, selection.Obj().(*types.Var)
}
