package pyjson

import (
	"math"
	"strconv"
	"strings"
)

// Number is a JSON number's source text. Python's json module parses it
// as a float when it has a fraction or exponent and as an int otherwise.
type Number string

// IsFloat reports whether Python would parse n as a float.
func (n Number) IsFloat() bool {
	return strings.ContainsAny(string(n), ".eE")
}

// Int64 returns n as an int64 when it is an integer in range.
func (n Number) Int64() (int64, bool) {
	if n.IsFloat() {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// Float64 returns n as Python's float(n) would: the nearest double,
// ±Inf when the magnitude overflows.
func (n Number) Float64() float64 {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

// Object is a JSON object that keeps its keys in first-seen order, like a
// Python dict built by json.loads. The zero value is an empty object.
type Object struct {
	keys []string
	vals map[string]any
}

// NewObject returns an object holding the given key/value pairs in order;
// kv alternates string keys and values.
func NewObject(kv ...any) *Object {
	o := &Object{}
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		o.Set(k, kv[i+1])
	}
	return o
}

// Set stores v under k. A new key goes to the end; an existing key keeps
// its position and takes the new value, as in a Python dict.
func (o *Object) Set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// Get returns the value stored under k.
func (o *Object) Get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[k]
	return v, ok
}

// Has reports whether k is present.
func (o *Object) Has(k string) bool {
	_, ok := o.Get(k)
	return ok
}

// Keys returns the keys in order. The caller must not modify the slice.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return o.keys
}

// Len is the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// Truthy reports whether Python would treat v as true in an if statement:
// osbuild drops empty options, references and the like that way.
func Truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case *Object:
		return t.Len() > 0
	case Number:
		if t.IsFloat() {
			return t.Float64() != 0
		}
		return strings.Trim(string(t), "-0") != ""
	}
	return true
}
