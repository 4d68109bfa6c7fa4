package main

// The statfs pass: Statfs_t.Type, 32 bits on 32-bit ARM, compared with a 64-bit value (does not compile), or
// converted with int64() (sign-extends: magic numbers above 2^31 such as Btrfs' 0x9123683E never match). A
// function that asks unsafe.Sizeof of the field handles its width itself, and is left alone.

import (
	"go/ast"
	"go/token"
	"go/types"
)

var statfs = &Analyzer{
	Name: "statfs",
	Doc:  "Statfs_t.Type compared with a 64-bit value, or sign-extended by int64()",
	Run:  runStatfs,
}

var statfsTypes = []string{"syscall.Statfs_t", "golang.org/x/sys/unix.Statfs_t"}

func runStatfs(pass *Pass) {
	for _, f := range pass.Files {
		var careful []*ast.BlockStmt // bodies of functions that check the field's width themselves
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil && checksWidth(pass.Info, fn.Body) {
				careful = append(careful, fn.Body)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if !inside(n, careful) {
					signExtension(pass, n)
				}
			case *ast.BinaryExpr:
				statfsCompare(pass, n)
			}
			return true
		})
	}
}

// statfsType says whether expr is Statfs_t's Type field, 32 bits wide on this target.
func statfsType(info *types.Info, expr ast.Expr) bool {
	sel, ok := unparen(expr).(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Type" {
		return false
	}
	recv, field := fieldOf(info, sel)
	return field != nil && isNamed(recv, statfsTypes...) != "" && is32(field.Type())
}

func statfsCompare(pass *Pass, bin *ast.BinaryExpr) {
	switch bin.Op {
	case token.EQL, token.NEQ, token.LSS, token.GTR, token.LEQ, token.GEQ:
	default:
		return
	}
	for _, pair := range [][2]ast.Expr{{bin.X, bin.Y}, {bin.Y, bin.X}} {
		other := pass.Info.Types[pair[1]].Type
		if statfsType(pass.Info, pair[0]) && other != nil && is64(other) {
			pass.Report(bin.Pos(), Finding{Kind: "statfs", Verdict: "int64-compare",
				Field: types.ExprString(pair[0]), Detail: types.ExprString(pair[1]) + " is " + other.String()})
			return
		}
	}
}

// signExtension: int64(statfs.Type).
func signExtension(pass *Pass, call *ast.CallExpr) {
	if len(call.Args) != 1 || !statfsType(pass.Info, call.Args[0]) {
		return
	}
	tv := pass.Info.Types[call.Fun]
	if !tv.IsType() || !is64(tv.Type) {
		return
	}
	if b, ok := tv.Type.Underlying().(*types.Basic); ok && b.Kind() == types.Int64 {
		pass.Report(call.Pos(), Finding{Kind: "statfs", Verdict: "sign-extend",
			Field: types.ExprString(call.Args[0]), Detail: types.ExprString(call)})
	}
}

// checksWidth: the function asks unsafe.Sizeof(x.Type) (as careful code converts through uint32 on 32-bit
// targets only).
func checksWidth(info *types.Info, body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if ok && len(call.Args) == 1 && statfsType(info, call.Args[0]) {
			if b, ok := info.Uses[calleeIdent(call.Fun)].(*types.Builtin); ok && b.Name() == "Sizeof" {
				found = true
			}
		}
		return !found
	})
	return found
}

func inside(n ast.Node, bodies []*ast.BlockStmt) bool {
	for _, b := range bodies {
		if b.Pos() <= n.Pos() && n.End() <= b.End() {
			return true
		}
	}
	return false
}
