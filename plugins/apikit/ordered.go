package apikit

import (
	"bytes"
	"encoding/json"
)

// OrderedObject is a JSON object that keeps its keys in insertion order (encoding/json sorts map
// keys), for responses whose key order the contract shows.
type OrderedObject struct {
	keys   []string
	values map[string]any
}

// NewOrderedObject returns an empty object with room for n keys.
func NewOrderedObject(n int) *OrderedObject {
	return &OrderedObject{keys: make([]string, 0, n), values: make(map[string]any, n)}
}

// Set adds or replaces a key (a replaced key keeps its first position).
func (o *OrderedObject) Set(key string, value any) {
	if _, ok := o.values[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.values[key] = value
}

// MarshalJSON writes the keys in insertion order.
func (o *OrderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := json.Marshal(o.values[k])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
