package httpcache

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every Go block of the README is code CI compiles: its lines, in order,
// are lines of one .go file of the repository (most are excerpts of an
// Example function), and the imports it shows are that file's. A block
// edited in the README alone, or code changed under it, fails here.
func TestREADMECodeBlocksCompile(t *testing.T) {
	blocks := readmeGoBlocks(t, "README.md")
	if len(blocks) == 0 {
		t.Fatal("no Go blocks found in README.md")
	}
	files := repositoryGoFiles(t, ".")
	for _, block := range blocks {
		imports, code := splitImports(block.lines)
		if !slices.ContainsFunc(files, func(f goFile) bool { return f.holds(imports, code) }) {
			t.Errorf("README.md:%d: this Go block is not code from any .go file of the repository, so nothing compiles it:\n%s\n"+
				"Copy it from an Example function (example_test.go and its kin), or write one and copy that.",
				block.line, strings.Join(block.lines, "\n"))
		}
	}
}

// readmeBlock is a fenced Go block: its lines and the line it starts on.
type readmeBlock struct {
	line  int
	lines []string
}

func readmeGoBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var current *readmeBlock
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		fence := strings.TrimSpace(line)
		switch {
		case current == nil && fence == "```go":
			current = &readmeBlock{line: n + 1}
		case current != nil && fence == "```":
			blocks = append(blocks, *current)
			current = nil
		case current != nil:
			current.lines = append(current.lines, line)
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if current != nil {
		t.Fatalf("README.md:%d: a Go block is not closed", current.line)
	}
	return blocks
}

// splitImports separates a block's leading import declaration, if any,
// from its code, each line trimmed.
func splitImports(lines []string) (imports, code []string) {
	trimmed := trimmedLines(lines)
	if len(trimmed) > 0 && trimmed[0] == "import (" {
		end := slices.Index(trimmed, ")")
		if end > 0 {
			return trimmed[1:end], trimBlank(trimmed[end+1:])
		}
	}
	if len(trimmed) > 0 && strings.HasPrefix(trimmed[0], "import ") {
		return []string{strings.TrimPrefix(trimmed[0], "import ")}, trimBlank(trimmed[1:])
	}
	return nil, trimBlank(trimmed)
}

// goFile is a .go file's lines, trimmed: the indentation of an excerpt
// differs from its function's.
type goFile struct {
	path  string
	lines []string
}

// holds reports whether the file imports every one of imports and has the
// lines of code in a row.
func (f goFile) holds(imports, code []string) bool {
	for _, imp := range imports {
		if imp != "" && !slices.Contains(f.lines, imp) {
			return false
		}
	}
	if len(code) == 0 {
		return len(imports) > 0
	}
	for i := 0; i+len(code) <= len(f.lines); i++ {
		if slices.Equal(f.lines[i:i+len(code)], code) {
			return true
		}
	}
	return false
}

func repositoryGoFiles(t *testing.T, root string) []goFile {
	t.Helper()
	var files []goFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".") && path != root) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, goFile{path: path, lines: trimmedLines(strings.Split(string(data), "\n"))})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func trimmedLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, line := range lines {
		out[i] = strings.TrimSpace(line)
	}
	return out
}

// trimBlank drops leading and trailing blank lines.
func trimBlank(lines []string) []string {
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
