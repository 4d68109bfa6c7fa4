package main

// The uidmapscan pass: fmt.Sscanf and friends scanning into an int or int32 in a package that reads
// /proc/*/uid_map or gid_map, whose 4294967295 overflows a 32-bit int.

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

var uidmapScan = &Analyzer{
	Name: "uidmapscan",
	Doc:  "fmt scanning into a 32-bit int in a package that reads uid_map/gid_map",
	Run:  runUidmapScan,
}

var scanners = map[string]bool{"Sscanf": true, "Sscan": true, "Sscanln": true, "Fscanf": true, "Fscan": true, "Fscanln": true}

func runUidmapScan(pass *Pass) {
	if !pass.ThirtyTwoBit() || !readsIDMap(pass.Files) {
		return
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if name := calledFunc(pass.Info, call, "fmt"); scanners[name] {
					scanInto32(pass, call, "fmt."+name)
				}
			}
			return true
		})
	}
}

// readsIDMap: a string literal of the package names uid_map or gid_map.
func readsIDMap(files []*ast.File) bool {
	found := false
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING &&
				(strings.Contains(lit.Value, "uid_map") || strings.Contains(lit.Value, "gid_map")) {
				found = true
			}
			return !found
		})
	}
	return found
}

// scanInto32 reports the call's first argument that points to an int or int32.
func scanInto32(pass *Pass, call *ast.CallExpr, name string) {
	for _, arg := range call.Args {
		unary, ok := unparen(arg).(*ast.UnaryExpr)
		if !ok || unary.Op != token.AND {
			continue
		}
		t := pass.Info.Types[unary.X].Type
		if t == nil {
			continue
		}
		if b, ok := t.Underlying().(*types.Basic); ok && (b.Kind() == types.Int || b.Kind() == types.Int32) {
			pass.Report(call.Pos(), Finding{Kind: "sscanf", Call: name, Field: types.ExprString(unary.X), Detail: b.Name()})
			return
		}
	}
}
