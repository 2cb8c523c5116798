// Package doccmd finds the hstack command lines that the documentation,
// the scripts and the CI workflows show or run, so tests can hold them to
// the real CLI.
package doccmd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/shell"
)

// Line is one hstack command line found in a file: the arguments after
// "hstack", split as a shell would, with documentation metasyntax
// ([optional], ELLIPSIS...) removed.
type Line struct {
	File string
	Line int
	Text string // as written, from "hstack" on
	Args []string
	// Mention is inline code in prose (`hstack promote`): it names a
	// command, and may leave out its arguments.
	Mention bool
}

func (l Line) String() string { return fmt.Sprintf("%s:%d: %s", l.File, l.Line, l.Text) }

// Sources are the files a user reads or runs, relative to the repository
// root: README, docs, the scripts, the Makefile and the CI workflows.
func Sources(root string) ([]string, error) {
	var files []string
	for _, pat := range []string{"README.md", "docs/*.md", "docs/*/*.md", "scripts/*.sh", "Makefile", ".github/workflows/*.yml", ".github/workflows/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	return files, nil
}

// The ways a file names the hstack binary: the command, a variable holding
// it, or the build output.
var invocation = regexp.MustCompile(`(?:^|[\s("'=;|&` + "`" + `])(?:\$hstack|\$\(BIN\)/hstack|(?:\./)?bin/hstack|hstack)[ \t]+`)

// Find returns the hstack command lines of a file. In Markdown only code
// (fenced blocks and inline spans) counts; in shell scripts and the
// Makefile every line but a comment; in YAML every line.
func Find(path string) ([]Line, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- a repository file the doc check lists
	if err != nil {
		return nil, err
	}
	arrays := shellArrays(string(data))
	var lines []Line
	isMarkdown := strings.HasSuffix(path, ".md")
	fenced, diagram := false, false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		text, start := sc.Text(), n
		// A continued line is one command line.
		for strings.HasSuffix(text, "\\") && !(isMarkdown && !fenced) && sc.Scan() {
			text = strings.TrimSuffix(text, "\\") + " " + sc.Text()
			n++
		}
		trimmed := strings.TrimSpace(text)
		var candidates []string
		mention := false
		switch {
		case isMarkdown && strings.HasPrefix(trimmed, "```"):
			fenced = !fenced
			diagram = fenced && strings.HasPrefix(trimmed, "```mermaid")
			continue
		case isMarkdown && diagram:
			continue
		case isMarkdown && fenced:
			candidates = []string{text}
		case isMarkdown:
			// \| is a pipe inside a table cell, not an argument.
			for _, m := range inlineCode.FindAllStringSubmatch(strings.ReplaceAll(text, `\|`, "|"), -1) {
				candidates = append(candidates, m[1])
			}
			mention = true
		case strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasSuffix(path, "Makefile") && !strings.HasPrefix(text, "\t"):
			continue // only recipes run commands
		default:
			candidates = []string{stripComment(text)}
		}
		for _, c := range candidates {
			for _, seg := range segments(c) {
				for name, val := range arrays {
					seg = strings.ReplaceAll(seg, `"${`+name+`[@]}"`, val)
				}
				// A workflow's ${{ expression }} is GitHub's, not the shell's.
				seg = ghExpr.ReplaceAllString(seg, "VALUE")
				args, err := split(seg)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %q: %w", path, n, seg, err)
				}
				lines = append(lines, Line{File: path, Line: start, Text: "hstack " + strings.TrimSpace(seg), Args: args, Mention: mention})
			}
		}
	}
	return lines, sc.Err()
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	ghExpr     = regexp.MustCompile(`\$\{\{[^}]*\}\}`)
)

// segments cuts a line into the text after each invocation of hstack, up
// to where that command ends: a shell operator, a comment, a closing
// parenthesis or quote it did not open, prose after a colon ("hstack
// deploy: pingapp as a canary"), or the next invocation.
func segments(line string) []string {
	locs := invocation.FindAllStringIndex(line, -1)
	var segs []string
	for i, loc := range locs {
		if strings.HasSuffix(strings.TrimRight(line[:loc[0]+1], " \t"), "-o") {
			continue // the build output (go build -o bin/hstack), not a run
		}
		end := len(line)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		seg := cut(line[loc[1]:end])
		if strings.TrimSpace(seg) != "" {
			segs = append(segs, seg)
		}
	}
	return segs
}

func cut(s string) string {
	var quote rune
	opened := -1
	for i, r := range s {
		if quote != 0 {
			if r == quote {
				quote = 0
			}
			continue
		}
		switch r {
		case '\'', '"':
			quote, opened = r, i
		case '|', ';', '&', ')', '(', '`', '<', '>':
			return s[:i]
		case '#':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '\t' {
				return s[:i]
			}
		case ':':
			if i+1 == len(s) || s[i+1] == ' ' {
				return s[:i]
			}
		}
	}
	if quote != 0 {
		// The quote closes a string around the command (echo "... hstack
		// promote pingapp"), so the command ends there.
		return s[:opened]
	}
	return s
}

// stripComment removes a shell comment: a # that starts a word, outside
// quotes.
func stripComment(line string) string {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// split splits like the shell; variables expand to a placeholder, since
// their values are the reader's.
func split(seg string) ([]string, error) {
	fields, err := shell.Fields(seg, func(string) string { return "VALUE" })
	if err != nil {
		return nil, err
	}
	var args []string
	for _, f := range fields {
		f = strings.TrimSuffix(strings.TrimPrefix(f, "["), "]")
		f = strings.TrimSuffix(f, "...")
		f = strings.TrimSuffix(f, "]")
		switch {
		case f != "":
			args = append(args, f)
		case len(args) > 0 && strings.HasPrefix(args[len(args)-1], "-"):
			// [--var ...]: the ellipsis is the flag's value.
			args = append(args, "VALUE")
		}
	}
	return args, nil
}

// shellArrays finds a script's array assignments (vars=(--env dev ...)),
// so "${vars[@]}" in its command lines stands for their words.
func shellArrays(src string) map[string]string {
	m := map[string]string{}
	for _, a := range arrayAssign.FindAllStringSubmatch(src, -1) {
		m[a[1]] = a[2]
	}
	return m
}

var arrayAssign = regexp.MustCompile(`(?m)^\s*(\w+)=\((.*)\)\s*$`)
