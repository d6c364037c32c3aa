package httpcache

import (
	"slices"
	"testing"
)

func TestRecencyList(t *testing.T) {
	var l recencyList[string]
	nodes := map[string]*recencyNode[string]{}
	for _, name := range []string{"a", "b", "c", "d"} {
		nodes[name] = &recencyNode[string]{item: name}
	}
	order := func() []string {
		var out []string
		for n := l.head; n != nil; n = n.next {
			out = append(out, n.item)
		}
		var back []string
		for n := l.tail; n != nil; n = n.prev {
			back = append([]string{n.item}, back...)
		}
		if !slices.Equal(out, back) {
			t.Fatalf("forward %v and backward %v disagree", out, back)
		}
		return out
	}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"touch adds nodes", func() {
			for _, name := range []string{"a", "b", "c", "d"} {
				l.touch(nodes[name])
			}
		}, []string{"d", "c", "b", "a"}},
		{"move the tail to the front", func() { l.touch(nodes["a"]) }, []string{"a", "d", "c", "b"}},
		{"move the head: no change", func() { l.touch(nodes["a"]) }, []string{"a", "d", "c", "b"}},
		{"remove from the middle", func() { l.remove(nodes["c"]) }, []string{"a", "d", "b"}},
		{"remove the head", func() { l.remove(nodes["a"]) }, []string{"d", "b"}},
		{"remove the tail", func() { l.remove(nodes["b"]) }, []string{"d"}},
		{"remove the last", func() { l.remove(nodes["d"]) }, nil},
		{"touch a removed node adds it again", func() { l.touch(nodes["c"]) }, []string{"c"}},
		{"and once only", func() { l.touch(nodes["c"]) }, []string{"c"}},
		{"remove it", func() { l.remove(nodes["c"]) }, nil},
	}
	for _, step := range steps {
		step.do()
		if got := order(); !slices.Equal(got, step.want) {
			t.Fatalf("%s: %v, want %v", step.name, got, step.want)
		}
	}
	l.touch(nodes["a"])
	l.touch(nodes["b"])
	if v := l.evictionVictim(nil); v != nodes["a"] {
		t.Fatal("the victim is not the least recently used")
	}
	if v := l.evictionVictim(nodes["a"]); v != nodes["b"] {
		t.Fatal("the victim is the node to keep")
	}
	l.remove(nodes["b"])
	if v := l.evictionVictim(nodes["a"]); v != nil {
		t.Fatal("a victim when only the node to keep is left")
	}
}
