package main

import "go/types"

// alignedSizes is the target's sizes, but knowing what the compiler knows about sync/atomic's Int64 and
// Uint64 (Go 1.19): their `align64` field makes them 8-byte aligned even on 32-bit targets.
type alignedSizes struct{ types.Sizes }

func isAlign64(t types.Type) bool {
	named, ok := t.(*types.Named)
	return ok && named.Obj().Name() == "align64" && named.Obj().Pkg() != nil &&
		(named.Obj().Pkg().Path() == "sync/atomic" || named.Obj().Pkg().Path() == "runtime/internal/atomic")
}

func (s alignedSizes) Alignof(t types.Type) int64 {
	if isAlign64(t) {
		return 8
	}
	if st, ok := t.Underlying().(*types.Struct); ok {
		max := int64(1)
		for i := 0; i < st.NumFields(); i++ {
			if a := s.Alignof(st.Field(i).Type()); a > max {
				max = a
			}
		}
		return max
	}
	if arr, ok := t.Underlying().(*types.Array); ok {
		return s.Alignof(arr.Elem())
	}
	return s.Sizes.Alignof(t)
}

func (s alignedSizes) Offsetsof(fields []*types.Var) []int64 {
	offsets := make([]int64, len(fields))
	var o int64
	for i, f := range fields {
		a := s.Alignof(f.Type())
		o = (o + a - 1) / a * a
		offsets[i] = o
		o += s.Sizeof(f.Type())
	}
	return offsets
}

func (s alignedSizes) Sizeof(t types.Type) int64 {
	if isAlign64(t) {
		return 0
	}
	switch u := t.Underlying().(type) {
	case *types.Struct:
		n := u.NumFields()
		if n == 0 {
			return 0
		}
		fields := make([]*types.Var, n)
		for i := range fields {
			fields[i] = u.Field(i)
		}
		offsets := s.Offsetsof(fields)
		size := offsets[n-1] + s.Sizeof(fields[n-1].Type())
		a := s.Alignof(t)
		return (size + a - 1) / a * a
	case *types.Array:
		if u.Len() == 0 {
			return 0
		}
		elem := s.Sizeof(u.Elem())
		a := s.Alignof(u.Elem())
		return (elem+a-1)/a*a*(u.Len()-1) + elem
	}
	return s.Sizes.Sizeof(t)
}
