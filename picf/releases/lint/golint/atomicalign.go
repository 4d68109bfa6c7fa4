package main

// The atomicalign pass: a 64-bit sync/atomic function called on a word that is not 8-byte aligned on a 32-bit
// target (the call panics there), found through receivers, parameters, locals, embedded and nested structs,
// array and slice elements, with the target's sizes. When a type the tree does not hold (or a type parameter)
// sits before the word in the layout, the offset is unknown: the finding says "unproven" and names that type.
// A pointer passed in is not judged: its allocation decides. The finding names the struct to change and where
// its fields are declared, so the catalog's align64 transform can move the field to the top.

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"
)

var atomicAlign = &Analyzer{
	Name: "atomicalign",
	Doc:  "64-bit sync/atomic calls on fields not 8-byte aligned on the target",
	Run:  runAtomicAlign,
}

var atomic64 = map[string]bool{
	"AddInt64": true, "AddUint64": true, "LoadInt64": true, "LoadUint64": true, "StoreInt64": true,
	"StoreUint64": true, "SwapInt64": true, "SwapUint64": true, "CompareAndSwapInt64": true,
	"CompareAndSwapUint64": true,
}

// unknownKey keys this pass's memo of unknownType in the tree's memo.
type unknownKey struct{ t types.Type }

func runAtomicAlign(pass *Pass) {
	if !pass.ThirtyTwoBit() {
		return
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if name := calledFunc(pass.Info, call, "sync/atomic"); atomic64[name] && len(call.Args) > 0 {
					if found := atomicFinding(pass, call, "atomic."+name); found != nil {
						pass.Report(call.Pos(), *found)
					}
				}
			}
			return true
		})
	}
}

// hop is one step from an allocated struct to the atomic field: the struct, the field and its offset there.
type hop struct {
	owner  *types.Named
	st     *types.Struct
	field  int
	offset int64
}

// layout is where the atomic word sits in the memory it belongs to (an allocated struct, array or variable).
type layout struct {
	offset   int64
	known    bool
	unknown  string
	path     []string
	hops     []hop
	arrayVar bool // an element of an array or slice indexed by a variable: the element size must be aligned
}

func atomicFinding(pass *Pass, call *ast.CallExpr, name string) *Finding {
	arg := unparen(call.Args[0])
	unary, ok := arg.(*ast.UnaryExpr)
	if !ok || unary.Op != token.AND {
		return nil // a pointer passed in: its allocation decides, not this call
	}
	lay := locate(pass, unparen(unary.X))
	if lay == nil || (lay.known && lay.offset%8 == 0) {
		return nil
	}
	finding := &Finding{Kind: "atomic64", Call: name, Field: strings.Join(lay.path, ".")}
	if len(lay.hops) > 0 {
		// The struct to change: the innermost one where the field is not at a multiple of 8 (moving it to the
		// top there makes it 0), or where the unknown type sits.
		chosen := lay.hops[len(lay.hops)-1]
		for _, h := range lay.hops {
			if h.offset%8 != 0 {
				chosen = h
			}
		}
		finding.Struct = typeName(chosen.owner, chosen.st)
		finding.Lift = chosen.st.Field(chosen.field).Name()
		describeStruct(pass, finding, chosen.owner)
		for i, h := range lay.hops {
			if h == chosen {
				finding.Field = strings.Join(lay.path[len(lay.path)-len(lay.hops)+i:], ".")
			}
		}
	}
	if lay.arrayVar {
		finding.Detail = "an element of an array or slice whose element size is not a multiple of 8"
	}
	if lay.known {
		finding.Verdict = "misaligned"
		offset := lay.offset
		finding.Offset = &offset
	} else {
		finding.Verdict = "unproven"
		finding.Unknown = lay.unknown
	}
	return finding
}

func typeName(owner *types.Named, st *types.Struct) string {
	if owner != nil {
		return owner.Obj().Name()
	}
	return "struct{...}"
}

func describeStruct(pass *Pass, f *Finding, owner *types.Named) {
	if owner == nil {
		return
	}
	ts := pass.Tree.TypeSpec(owner.Obj())
	if ts == nil {
		return
	}
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return
	}
	f.StructFile, f.StructLines[0] = pass.Position(st.Fields.Opening)
	_, f.StructLines[1] = pass.Position(st.Fields.Closing)
	for _, field := range st.Fields.List {
		first := field.Pos()
		if field.Doc != nil {
			first = field.Doc.Pos()
		}
		last := field.End()
		if field.Comment != nil {
			last = field.Comment.End()
		}
		names := []string{}
		for _, n := range field.Names {
			names = append(names, n.Name)
		}
		if len(names) == 0 {
			names = append(names, types.ExprString(field.Type))
		}
		_, a := pass.Position(first)
		_, b := pass.Position(last)
		f.Fields = append(f.Fields, FieldLines{Names: names, First: a, Last: b})
	}
}

// locate finds where the 64-bit word `expr` (the operand of &) sits within its allocation.
func locate(pass *Pass, expr ast.Expr) *layout {
	switch e := expr.(type) {
	case *ast.Ident, *ast.StarExpr:
		return &layout{offset: 0, known: true} // a variable (it escapes: allocated) or what a pointer points to
	case *ast.ParenExpr:
		return locate(pass, e.X)
	case *ast.IndexExpr:
		base := pass.Info.Types[e.X].Type
		if base == nil {
			return nil
		}
		var elem types.Type
		inPlace := false // an array value inside something else: its offset there counts
		switch u := base.Underlying().(type) {
		case *types.Slice:
			elem = u.Elem()
		case *types.Array:
			elem, inPlace = u.Elem(), true
		case *types.Pointer:
			if arr, ok := u.Elem().Underlying().(*types.Array); ok {
				elem = arr.Elem()
			}
		}
		if elem == nil {
			return nil
		}
		lay := &layout{offset: 0, known: true}
		if inPlace {
			if outer := locate(pass, e.X); outer != nil {
				lay = outer
			}
		}
		size := pass.Sizes.Sizeof(elem)
		if tv := pass.Info.Types[e.Index]; tv.Value != nil {
			if i, ok := constant.Int64Val(tv.Value); ok {
				lay.offset += i * size
				return lay
			}
		}
		if size%8 != 0 && lay.known {
			lay.offset += size // element 1 of a variable index: the first that is misaligned
		}
		lay.arrayVar = true
		return lay
	case *ast.SelectorExpr:
		sel := pass.Info.Selections[e]
		if sel == nil || sel.Kind() != types.FieldVal {
			return &layout{offset: 0, known: true} // a package-level variable
		}
		recv := sel.Recv()
		lay := &layout{offset: 0, known: true}
		if _, isPtr := recv.Underlying().(*types.Pointer); !isPtr {
			if outer := locate(pass, e.X); outer != nil {
				lay = outer // a struct value inside something else: its offset there counts
			}
		} // else through a pointer: a struct of its own allocation, 8-byte aligned
		t := recv
		for step, index := range sel.Index() {
			if ptr, ok := t.Underlying().(*types.Pointer); ok {
				t = ptr.Elem()
				if step > 0 { // an embedded pointer: what it points to is allocated on its own
					lay = &layout{offset: 0, known: lay.known, unknown: lay.unknown, path: lay.path}
				}
			}
			st, ok := t.Underlying().(*types.Struct)
			if !ok {
				return nil
			}
			offset, known, unknown := fieldOffset(pass, st, index)
			owner, _ := t.(*types.Named)
			lay.hops = append(lay.hops, hop{owner: owner, st: st, field: index, offset: offset})
			lay.path = append(lay.path, st.Field(index).Name())
			if !known && lay.known {
				lay.known, lay.unknown = false, unknown
			}
			lay.offset += offset
			t = st.Field(index).Type()
		}
		return lay
	}
	return nil
}

// fieldOffset is field i's offset in st, or why it cannot be known: a field before it of a type from outside
// the tree (unresolved), or of a type parameter. What comes after the field never matters.
func fieldOffset(pass *Pass, st *types.Struct, i int) (int64, bool, string) {
	fields := make([]*types.Var, st.NumFields())
	for k := range fields {
		fields[k] = st.Field(k)
	}
	for k := 0; k < i; k++ {
		if what := unknownIn(pass, fields[k]); what != "" {
			return 0, false, what
		}
	}
	return pass.Sizes.Offsetsof(fields[:i+1])[i], true, ""
}

// unknownIn names what makes a field's size unknown: an unresolved type, or a type parameter.
func unknownIn(pass *Pass, v *types.Var) string {
	found := unknownType(pass, v.Type(), map[types.Type]bool{})
	if found == "?" {
		if expr := pass.Tree.FieldType(v); expr != nil {
			return types.ExprString(expr)
		}
		return "a type outside the tree"
	}
	return found
}

// unknownType is "" when t's size is known, "?" when it holds an unresolved type, or the name of what makes
// it unknown (a named type that holds one, a type parameter). Memoized: layouts nest deeply.
func unknownType(pass *Pass, t types.Type, seen map[types.Type]bool) string {
	if cached, ok := pass.Tree.Memo.Load(unknownKey{t}); ok {
		return cached.(string)
	}
	if seen[t] {
		return ""
	}
	seen[t] = true
	found := ""
	switch u := t.(type) {
	case *types.Basic:
		if u.Kind() == types.Invalid {
			found = "?"
		}
	case *types.TypeParam:
		found = "type parameter " + u.Obj().Name()
	case *types.Named:
		if inner := unknownType(pass, u.Underlying(), seen); inner != "" {
			found = inner
			if inner == "?" {
				found = u.Obj().Name()
			}
		}
	case *types.Struct:
		for k := 0; k < u.NumFields() && found == ""; k++ {
			found = unknownType(pass, u.Field(k).Type(), seen)
		}
	case *types.Array:
		found = unknownType(pass, u.Elem(), seen)
	}
	pass.Tree.Memo.Store(unknownKey{t}, found)
	return found
}
