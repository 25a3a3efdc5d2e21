package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/cskpi/cskpi/deploy"
)

func main() {
	root := flag.String("root", ".", "repository root the generated paths are relative to")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("%s is not the repository root: %w", root, err)
	}
	cfg, err := deploy.LoadConfig(filepath.Join(root, filepath.FromSlash(deploy.ConfigFile)))
	if err != nil {
		return err
	}
	files, err := deploy.Files(cfg)
	if err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		dst := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, files[p], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", p)
	}
	// The generated tables of the docs, spliced between their markers.
	docs := deploy.DocSections(cfg)
	for _, p := range slices.Sorted(maps.Keys(docs)) {
		dst := filepath.Join(root, filepath.FromSlash(p))
		doc, err := os.ReadFile(dst)
		if err != nil {
			return err
		}
		out, err := deploy.Splice(doc, docs[p])
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote the generated tables of", p)
	}
	return nil
}
