package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cau-bridge/cau/agenda/pdfsig"
	"github.com/cau-bridge/cau/agenda/sigverify"
)

// Exit codes of `cau verify-pdf`.
const (
	verifyOK       = 0 // every signature valid and the last covers the file
	verifyInvalid  = 1 // a signature is invalid or data follows the last one
	verifyUnsigned = 2 // unsigned, unreadable, not a PDF, or bad usage
)

// runVerifyPDF implements `cau verify-pdf --roots DIR FILE.pdf`: it prints
// the pdfsig report as indented JSON and returns the exit code.
func runVerifyPDF(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cau verify-pdf", flag.ContinueOnError)
	var roots string
	fs.StringVar(&roots, "trusted-roots", "", "directory of trusted root certificates (*.pem, *.crt, *.cer)")
	fs.StringVar(&roots, "roots", "", "same as --trusted-roots")
	maxSize := fs.Int64("max-size", pdfsig.DefaultMaxSize, "largest file to read, in bytes")
	usage := "Usage: cau verify-pdf --roots DIR FILE.pdf\n" +
		"Verifies every signature in FILE.pdf against the roots in DIR and prints a JSON report.\n" +
		"Exit status: 0 all signatures valid and the last covers the whole file; 1 a signature is\n" +
		"invalid or data was appended after it; 2 the file is unsigned or unreadable."
	if err := parse(fs, args, stderr, usage); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "cau verify-pdf:", err)
		}
		return verifyUnsigned
	}
	if roots == "" || fs.NArg() != 1 {
		fs.Usage()
		fmt.Fprintln(stderr, "cau verify-pdf: need --roots DIR and exactly one FILE.pdf")
		return verifyUnsigned
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "cau verify-pdf:", err)
		writeJSON(stdout, map[string]string{"file": fs.Arg(0), "error": err.Error()})
		return verifyUnsigned
	}
	pool, err := sigverify.LoadRoots(roots)
	if err != nil {
		return fail(err)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	rep, err := pdfsig.Verify(f, info.Size(), pdfsig.Options{Policy: sigverify.Policy{Roots: pool}, MaxSize: *maxSize})
	if err != nil {
		return fail(err)
	}
	writeJSON(stdout, struct {
		File string `json:"file"`
		*pdfsig.Report
	}{fs.Arg(0), rep})
	switch {
	case !rep.Signed:
		fmt.Fprintln(stderr, "cau verify-pdf: the file is not signed")
		return verifyUnsigned
	case !rep.Valid:
		return verifyInvalid
	}
	return verifyOK
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
