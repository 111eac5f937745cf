package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/signaling"
)

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"--help"}, &out, &out)
	if err == nil {
		t.Fatal("--help returned no error (flag.ErrHelp expected)")
	}
	for _, f := range []string{"http-addr", "data-dir", "udp-port", "tcp-port", "public-ip", "tls-cert", "tls-key", "dev-join"} {
		if !strings.Contains(out.String(), "--"+f) || !strings.Contains(out.String(), envName(f)) {
			t.Errorf("--help does not list --%s [%s]", f, envName(f))
		}
	}
	if envName("http-addr") != "CAU_HTTP_ADDR" {
		t.Errorf("envName(http-addr) = %s", envName("http-addr"))
	}
}

func TestBadFlagsAreRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--video-codec", "AV1"},
		{"--tls-cert", "x.pem"},
		{"--log-level", "loud"},
		{"--no-such-flag"},
	} {
		var out bytes.Buffer
		if err := run(args, &out, &out); err == nil {
			t.Errorf("%v was accepted", args)
		}
	}
	t.Setenv("CAU_UDP_PORT", "not-a-number")
	var out bytes.Buffer
	if err := run(nil, &out, &out); err == nil || !strings.Contains(err.Error(), "CAU_UDP_PORT") {
		t.Errorf("a bad CAU_UDP_PORT gave %v", err)
	}
}

func TestTokenSubcommandUsesTheServersSecret(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"token", "--data-dir", dir, "--id", "ls-ubnd", "--name", "UBND tỉnh", "--meeting", "hop"}, &out, &errOut); err != nil {
		t.Fatalf("token: %v %s", err, errOut.String())
	}
	secret, err := app.LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := signaling.NewTokens(secret)
	c, err := tokens.Verify(strings.TrimSpace(out.String()))
	if err != nil || c.Subject != "ls-ubnd" || c.Meeting != "hop" || c.Name != "UBND tỉnh" {
		t.Fatalf("minted token: %+v, %v", c, err)
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestServerStartsFromEnvironmentAndStopsOnSIGTERM runs the real binary as a
// user would, configured only through CAU_* variables.
func TestServerStartsFromEnvironmentAndStopsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cau")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	httpPort := freePort(t, "tcp")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"CAU_HTTP_ADDR=127.0.0.1:"+itoa(httpPort),
		"CAU_DATA_DIR="+t.TempDir(),
		"CAU_ICE_IP=127.0.0.1",
		"CAU_UDP_PORT="+itoa(freePort(t, "udp")),
		"CAU_TCP_PORT="+itoa(freePort(t, "tcp")),
	)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	url := "http://127.0.0.1:" + itoa(httpPort) + "/healthz"
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("/healthz never answered 200\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 15 s after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("no graceful shutdown in the log:\n%s", logs.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
