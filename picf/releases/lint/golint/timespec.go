package main

// The timespec pass: a typed 64-bit value put into a field of syscall.Timespec or Timeval (or x/sys/unix's)
// that is 32 bits on the target. On linux/arm such code does not compile.

import (
	"go/ast"
	"go/types"
)

var timespec = &Analyzer{
	Name: "timespec",
	Doc:  "typed 64-bit values in Timespec/Timeval fields that are int32 on the target",
	Run:  runTimespec,
}

var timeTypes = []string{"syscall.Timespec", "syscall.Timeval", "golang.org/x/sys/unix.Timespec", "golang.org/x/sys/unix.Timeval"}

func runTimespec(pass *Pass) {
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				timespecLiteral(pass, n)
			case *ast.AssignStmt:
				timespecAssign(pass, n)
			}
			return true
		})
	}
}

// timespecLiteral: syscall.Timespec{Sec: x} with x an int64.
func timespecLiteral(pass *Pass, lit *ast.CompositeLit) {
	t := pass.Info.Types[lit].Type
	if t == nil {
		return
	}
	owner := isNamed(t, timeTypes...)
	st, ok := t.Underlying().(*types.Struct)
	if owner == "" || !ok {
		return
	}
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		for i := 0; i < st.NumFields(); i++ {
			field := st.Field(i)
			value := pass.Info.Types[kv.Value].Type
			if field.Name() == key.Name && is32(field.Type()) && value != nil && is64(value) {
				pass.Report(kv.Pos(), Finding{Kind: "timespec", Struct: owner, Field: key.Name,
					Detail: types.ExprString(kv.Value) + " is " + value.String()})
			}
		}
	}
}

// timespecAssign: ts.Sec = x with x an int64.
func timespecAssign(pass *Pass, assign *ast.AssignStmt) {
	for i, lhs := range assign.Lhs {
		if i >= len(assign.Rhs) {
			break
		}
		sel, ok := lhs.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		recv, field := fieldOf(pass.Info, sel)
		if field == nil {
			continue
		}
		owner := isNamed(recv, timeTypes...)
		value := pass.Info.Types[assign.Rhs[i]].Type
		if owner != "" && is32(field.Type()) && value != nil && is64(value) {
			pass.Report(assign.Pos(), Finding{Kind: "timespec", Struct: owner, Field: sel.Sel.Name,
				Detail: types.ExprString(assign.Rhs[i]) + " is " + value.String()})
		}
	}
}
