package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// minioInstall is the command that installs the pinned MinIO server the
// tests run against; scripts/test.sh runs it.
const minioInstall = `GOBIN="$HOME/.cache/cau/bin" go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c`

// MinIOServer is a real MinIO server on 127.0.0.1 with its data in a
// temporary directory, started by StartMinIO.
type MinIOServer struct {
	// Endpoint is "127.0.0.1:<port>", the S3 API address.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string

	t       testing.TB
	bin     string
	dataDir string
	console string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
}

// StartMinIO starts a MinIO server for the test and kills it at cleanup.
// The binary is $CAU_MINIO_BIN, else $HOME/.cache/cau/bin/minio, else minio
// on PATH. Without one the test is skipped, or fails when
// CAU_REQUIRE_MINIO=1 (as scripts/test.sh sets), so CI never skips silently.
func StartMinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin, why := findMinIO()
	if bin == "" {
		msg := fmt.Sprintf("no MinIO server binary: %s; install it with\n\t%s\n(or run scripts/test.sh, which does)", why, minioInstall)
		if os.Getenv("CAU_REQUIRE_MINIO") == "1" {
			t.Fatalf("%s", msg)
		}
		t.Skip(msg)
	}
	s := &MinIOServer{
		AccessKey: "cau-test", SecretKey: "cau-test-secret-key",
		t: t, bin: bin, dataDir: t.TempDir(),
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		// A free port found here may be taken before MinIO binds it; retry.
		s.Endpoint, s.console = freeAddr(t), freeAddr(t)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start MinIO (%s): %v", bin, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func findMinIO() (bin, why string) {
	if p := os.Getenv("CAU_MINIO_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("CAU_MINIO_BIN=%s: %v", p, err)
		}
		return p, ""
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "cau", "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, ""
	}
	return "", "CAU_MINIO_BIN is unset, $HOME/.cache/cau/bin/minio does not exist and minio is not on PATH"
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// start runs the server on s.Endpoint and waits until it is live and
// initialised.
func (s *MinIOServer) start() error {
	out := &lockedBuffer{}
	cmd := exec.Command(s.bin, "server", s.dataDir,
		"--address", s.Endpoint, "--console-address", s.console,
		"--certs-dir", filepath.Join(s.dataDir, ".certs"), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := waitLive(ctx, "http://"+s.Endpoint+"/minio/health/live", done)
	if err != nil {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	s.mu.Lock()
	s.cmd, s.done, s.out = cmd, done, out
	s.mu.Unlock()
	return nil
}

func waitLive(ctx context.Context, url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			// Live answers 200 while still starting, with this header set;
			// S3 calls fail ("Server not initialized yet") until it is gone.
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Minio-Server-Status") == "" {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("minio exited before it was live")
		case <-ctx.Done():
			return fmt.Errorf("minio not live at %s: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills the server at once (SIGKILL, like a crash) and waits for it to
// exit. It is safe to call more than once; Restart starts it again.
func (s *MinIOServer) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
	if s.t.Failed() {
		s.t.Logf("MinIO output:\n%s", s.out.String())
	}
}

// Restart starts a stopped server again on the same address and data, as
// after a crash.
func (s *MinIOServer) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The old process's port may linger briefly; retry on the same port.
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.t.Fatalf("restart MinIO: %v", err)
}

// lockedBuffer collects the server's output from its two streams.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
