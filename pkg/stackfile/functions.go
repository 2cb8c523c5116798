package stackfile

import (
	"sort"
	"sync"

	"github.com/hashicorp/go-cty-funcs/cidr"
	"github.com/hashicorp/go-cty-funcs/collection"
	"github.com/hashicorp/go-cty-funcs/crypto"
	"github.com/hashicorp/go-cty-funcs/encoding"
	"github.com/hashicorp/go-cty-funcs/uuid"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions returns the functions available in stack file expressions,
// by name. They are the HCL ecosystem's (cty's stdlib, go-cty-funcs and
// HCL's try/can) under Terraform's names. Everything that would make
// rendering depend on when or where it runs is left out: uuid(),
// timestamp(), bcrypt() (random salt) and the file-system functions.
func Functions() map[string]function.Function {
	out := make(map[string]function.Function, len(allFunctions()))
	for k, v := range allFunctions() {
		out[k] = v
	}
	return out
}

// allFunctions builds the table once; evaluation contexts share it and
// never modify it.
func allFunctions() map[string]function.Function {
	functionsOnce.Do(func() {
		functions = map[string]function.Function{
			// Numbers.
			"abs":      stdlib.AbsoluteFunc,
			"ceil":     stdlib.CeilFunc,
			"floor":    stdlib.FloorFunc,
			"log":      stdlib.LogFunc,
			"max":      stdlib.MaxFunc,
			"min":      stdlib.MinFunc,
			"parseint": stdlib.ParseIntFunc,
			"pow":      stdlib.PowFunc,
			"signum":   stdlib.SignumFunc,

			// Strings.
			"chomp":      stdlib.ChompFunc,
			"format":     stdlib.FormatFunc,
			"formatlist": stdlib.FormatListFunc,
			"indent":     stdlib.IndentFunc,
			"join":       stdlib.JoinFunc,
			"lower":      stdlib.LowerFunc,
			"regex":      stdlib.RegexFunc,
			"regexall":   stdlib.RegexAllFunc,
			"replace":    stdlib.ReplaceFunc,
			"split":      stdlib.SplitFunc,
			"strlen":     stdlib.StrlenFunc,
			"strrev":     stdlib.ReverseFunc,
			"substr":     stdlib.SubstrFunc,
			"title":      stdlib.TitleFunc,
			"trim":       stdlib.TrimFunc,
			"trimprefix": stdlib.TrimPrefixFunc,
			"trimsuffix": stdlib.TrimSuffixFunc,
			"trimspace":  stdlib.TrimSpaceFunc,
			"upper":      stdlib.UpperFunc,

			// Collections.
			"chunklist":       stdlib.ChunklistFunc,
			"coalesce":        collection.CoalesceFunc,
			"coalescelist":    stdlib.CoalesceListFunc,
			"compact":         stdlib.CompactFunc,
			"concat":          stdlib.ConcatFunc,
			"contains":        stdlib.ContainsFunc,
			"distinct":        stdlib.DistinctFunc,
			"element":         stdlib.ElementFunc,
			"flatten":         stdlib.FlattenFunc,
			"index":           stdlib.IndexFunc,
			"keys":            stdlib.KeysFunc,
			"length":          stdlib.LengthFunc,
			"lookup":          stdlib.LookupFunc,
			"merge":           stdlib.MergeFunc,
			"range":           stdlib.RangeFunc,
			"reverse":         stdlib.ReverseListFunc,
			"setintersection": stdlib.SetIntersectionFunc,
			"setproduct":      stdlib.SetProductFunc,
			"setsubtract":     stdlib.SetSubtractFunc,
			"setunion":        stdlib.SetUnionFunc,
			"slice":           stdlib.SliceFunc,
			"sort":            stdlib.SortFunc,
			"values":          stdlib.ValuesFunc,
			"zipmap":          stdlib.ZipmapFunc,

			// Encoding.
			"base64decode": encoding.Base64DecodeFunc,
			"base64encode": encoding.Base64EncodeFunc,
			"csvdecode":    stdlib.CSVDecodeFunc,
			"jsondecode":   stdlib.JSONDecodeFunc,
			"jsonencode":   stdlib.JSONEncodeFunc,
			"urlencode":    encoding.URLEncodeFunc,

			// Hashes and deterministic identifiers.
			"md5":    crypto.Md5Func,
			"sha1":   crypto.Sha1Func,
			"sha256": crypto.Sha256Func,
			"sha512": crypto.Sha512Func,
			"uuidv5": uuid.V5Func,

			// Networking.
			"cidrhost":    cidr.HostFunc,
			"cidrnetmask": cidr.NetmaskFunc,
			"cidrsubnet":  cidr.SubnetFunc,
			"cidrsubnets": cidr.SubnetsFunc,

			// Dates, computed only from their arguments.
			"formatdate": stdlib.FormatDateFunc,
			"timeadd":    stdlib.TimeAddFunc,

			// Type conversion and error handling.
			"can":      tryfunc.CanFunc,
			"try":      tryfunc.TryFunc,
			"tobool":   stdlib.MakeToFunc(cty.Bool),
			"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
			"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
			"tonumber": stdlib.MakeToFunc(cty.Number),
			"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
			"tostring": stdlib.MakeToFunc(cty.String),
		}
	})
	return functions
}

var (
	functionsOnce sync.Once
	functions     map[string]function.Function
)

// FunctionNames lists the available functions, sorted, for docs and
// completion.
func FunctionNames() []string {
	fns := allFunctions()
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
