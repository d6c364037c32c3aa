package httpcache

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// Every Go block of the README is code CI compiles: its lines, in order,
// are lines of one function of a test file (most are excerpts of an
// Example) or of an example program, with at least one statement or
// declaration among them, and the imports it shows are that file's. A
// block edited in the README alone, or code changed under it, fails here.
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
	var fence string // the open fence: its character, as many times as it has
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "":
			if opening, info := fenceOf(trimmed); opening != "" {
				fence = opening
				if isGoInfo(info) {
					current = &readmeBlock{line: n + 1}
				}
			}
		case strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "":
			if current != nil {
				blocks = append(blocks, *current)
			}
			current, fence = nil, ""
		case current != nil:
			current.lines = append(current.lines, line)
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if fence != "" {
		t.Fatalf("%s: a fenced block is not closed", path)
	}
	return blocks
}

// fenceOf returns the fence a line opens (three or more backticks or
// tildes, as CommonMark has them) and the info string after it; "" for a
// line that opens none.
func fenceOf(line string) (fence, info string) {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 {
			return line[:n], strings.TrimSpace(line[n:])
		}
	}
	return "", ""
}

// isGoInfo reports an info string that marks Go, in any of the spellings
// renderers take ("go", "golang", "Go", with attributes after it).
func isGoInfo(info string) bool {
	lang, _, _ := strings.Cut(info, " ")
	lang = strings.ToLower(strings.Trim(lang, "{}."))
	return lang == "go" || lang == "golang"
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

// goFile is a Go file's functions, each as its lines trimmed (the
// indentation of an excerpt differs from its function's), and its imports
// as a block would show them.
type goFile struct {
	path      string
	functions [][]string
	imports   []string
}

// holds reports whether the file imports every one of imports and one of
// its functions has the lines of code in a row, code being more than
// comments and braces.
func (f goFile) holds(imports, code []string) bool {
	if !slices.ContainsFunc(code, isCodeLine) {
		return false
	}
	for _, imp := range imports {
		if imp != "" && !slices.Contains(f.imports, imp) {
			return false
		}
	}
	for _, lines := range f.functions {
		for i := 0; i+len(code) <= len(lines); i++ {
			if slices.Equal(lines[i:i+len(code)], code) {
				return true
			}
		}
	}
	return false
}

// isCodeLine reports a trimmed line that is more than a comment or
// punctuation: it names something.
func isCodeLine(line string) bool {
	return !strings.HasPrefix(line, "//") && !strings.HasPrefix(line, "/*") &&
		strings.ContainsFunc(line, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// repositoryGoFiles parses the files whose code the tests compile and a
// README block may show: test files, and the example programs.
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
		example := strings.HasPrefix(filepath.ToSlash(path), "examples/")
		if d.IsDir() || !strings.HasSuffix(path, ".go") || !strings.HasSuffix(path, "_test.go") && !example {
			return nil
		}
		file, err := parseGoFile(path)
		if err != nil {
			return err
		}
		files = append(files, file)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func parseGoFile(path string) (goFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return goFile{}, err
	}
	fset := token.NewFileSet()
	parsed, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return goFile{}, err
	}
	lines := trimmedLines(strings.Split(string(src), "\n"))
	file := goFile{path: path}
	for _, decl := range parsed.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
			first, last := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			file.functions = append(file.functions, lines[first-1:last])
		}
	}
	for _, spec := range parsed.Imports {
		imp := spec.Path.Value
		if spec.Name != nil {
			imp = spec.Name.Name + " " + imp
		}
		file.imports = append(file.imports, imp)
	}
	return file, nil
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

// The check refuses what CI does not compile: lines from a raw string
// (a Lua script), an import alone, punctuation, a comment, code from no
// function; blocks fenced in every spelling of Go are checked; it takes an
// excerpt of an Example.
func TestREADMECheckRefusesWhatIsNotCompiled(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	blocks := map[string]bool{ // block → whether the check takes it
		"redis.call('DEL', KEYS[1])": false,
		"import \"net/http\"":        false,
		"}":                          false,
		"},":                         false,
		"// Output:":                 false,
		"cache := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithNoSuchOption())":                                                          false,
		"sdk := &http.Client{Timeout: 10 * time.Second} // an SDK's client, Transport nil\ncache := httpcache.New(httpcache.WithTransport(sdk.Transport))": true,
	}
	var text strings.Builder
	var order []string
	for block := range blocks {
		order = append(order, block)
		// Every spelling of a Go fence renderers take is checked.
		fences := [][2]string{{"```go", "```"}, {"```golang", "```"}, {"~~~go", "~~~"}, {"````go title=\"main.go\"", "````"}, {"```Go", "```"}}
		fence := fences[len(order)%len(fences)]
		text.WriteString("Some prose.\n\n" + fence[0] + "\n" + block + "\n" + fence[1] + "\n\n")
	}
	if err := os.WriteFile(readme, []byte(text.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	parsed := readmeGoBlocks(t, readme)
	if len(parsed) != len(order) {
		t.Fatalf("%d blocks read, want %d", len(parsed), len(order))
	}
	files := repositoryGoFiles(t, ".")
	for i, block := range parsed {
		imports, code := splitImports(block.lines)
		taken := slices.ContainsFunc(files, func(f goFile) bool { return f.holds(imports, code) })
		if want := blocks[order[i]]; taken != want {
			t.Errorf("block %q: taken = %v, want %v", order[i], taken, want)
		}
	}
}
