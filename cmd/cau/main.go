// Command cau runs the Cầu meeting server. With no subcommand it serves;
// `cau token` mints a development meeting token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cau-bridge/cau/internal/app"
	"github.com/cau-bridge/cau/signaling"
	"github.com/cau-bridge/cau/storage/objstore"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "verify-pdf" { // own exit codes: see verifypdf.go
		os.Exit(runVerifyPDF(os.Args[2:], os.Stdout, os.Stderr))
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cau:", err)
			os.Exit(1)
		}
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], stdout, stderr)
	}
	return runServer(args, stderr)
}

// envName maps a flag name to its environment variable: http-addr →
// CAU_HTTP_ADDR.
func envName(flagName string) string {
	return "CAU_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse applies CAU_* environment variables, then the command line, so a flag
// always wins over the environment.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr, "\nFlags (each can also be set with the environment variable shown):")
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	return fs.Parse(args)
}

func runServer(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("cau", flag.ContinueOnError)
	httpAddr := fs.String("http-addr", ":8080", "HTTP (or HTTPS) listen address")
	dataDir := fs.String("data-dir", "./cau-data", "directory for the token secret and, later, the database and documents")
	udpPort := fs.Int("udp-port", 7882, "the one UDP port all WebRTC peers share")
	tcpPort := fs.Int("tcp-port", 7881, "the one TCP port for ICE-TCP (-1 disables it)")
	iceIP := fs.String("ice-ip", "", "address the ICE ports bind to (empty: all interfaces)")
	publicIP := fs.String("public-ip", "", "comma-separated public IPs to advertise when behind a 1:1 NAT")
	loopback := fs.Bool("ice-loopback", true, "also offer 127.0.0.1 ICE candidates (a browser on this machine)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS and WSS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	secret := fs.String("token-secret", "", "secret that signs meeting tokens (default: generated into the data dir)")
	devJoin := fs.Bool("dev-join", true, "let the page mint its own token (development only; turn off in production)")
	codec := fs.String("video-codec", "VP8", "meeting video codec: VP8 or H264")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	dbPath := fs.String("db", "", "SQLite metadata database (default <data-dir>/cau.db)")
	s3 := objstore.Config{}
	fs.StringVar(&s3.Endpoint, "s3-endpoint", "", "MinIO/S3 host:port for documents (default: local disk under <data-dir>/objects)")
	fs.StringVar(&s3.AccessKey, "s3-access-key", "", "MinIO/S3 access key")
	fs.StringVar(&s3.SecretKey, "s3-secret-key", "", "MinIO/S3 secret key")
	fs.StringVar(&s3.Bucket, "s3-bucket", "cau", "bucket, created private with versioning if missing")
	fs.StringVar(&s3.Region, "s3-region", "", "bucket region")
	fs.BoolVar(&s3.TLS, "s3-tls", false, "reach MinIO/S3 over HTTPS")
	trustedRoots := fs.String("trusted-roots", "", "folder of PEM root certificates trusted for document signatures (default <data-dir>/trusted-roots if present)")
	sealCert := fs.String("seal-cert", "", "organisation seal certificate chain (PEM), to seal agendas")
	sealKey := fs.String("seal-key", "", "organisation seal private key (PEM)")
	maxUploadMB := fs.Int64("max-upload-mb", 200, "largest document upload, in MiB")
	presignTTL := fs.Duration("presign-ttl", 0, "offer presigned MinIO download URLs living this long (0: downloads only through Cầu)")
	metricsToken := fs.String("metrics-token", "", "bearer token a Prometheus scraper presents for /metrics and /debug/stats (default: served to this machine only)")
	adminPassword := fs.String("admin-password", "", "password of the first IT admin account \"admin\", used only when no account exists (default: random, written to <data-dir>/admin.password)")
	if err := parse(fs, args, stderr, "Usage: cau [flags]        run the server\n       cau token [flags]  mint a meeting token"); err != nil {
		return err
	}
	if *maxUploadMB <= 0 {
		return errors.New("--max-upload-mb must be positive")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	var videoMime string
	switch strings.ToUpper(*codec) {
	case "VP8":
		videoMime = "video/VP8"
	case "H264":
		videoMime = "video/H264"
	default:
		return fmt.Errorf("--video-codec %q: use VP8 or H264", *codec)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var publicIPs []string
	for _, ip := range strings.Split(*publicIP, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			publicIPs = append(publicIPs, ip)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(app.Config{
		HTTPAddr: *httpAddr, DataDir: *dataDir, ICEIP: *iceIP, UDPPort: *udpPort, TCPPort: *tcpPort,
		PublicIPs: publicIPs, IncludeLoopback: *loopback, TLSCert: *tlsCert, TLSKey: *tlsKey,
		TokenSecret: *secret, DevJoin: *devJoin, VideoCodec: videoMime, Logger: log,
		DBPath: *dbPath, AdminPassword: *adminPassword,
		ObjectStore: s3, TrustedRoots: *trustedRoots, SealCert: *sealCert, SealKey: *sealKey,
		MaxUpload: *maxUploadMB << 20, PresignTTL: *presignTTL, MetricsToken: *metricsToken,
	})
	if err != nil {
		return err
	}
	serveErr := a.Wait(ctx)
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(serveErr, a.Shutdown(shutdownCtx))
}

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cau token", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./cau-data", "the server's data directory (holds the token secret)")
	secret := fs.String("token-secret", "", "token secret (default: the one in the data dir)")
	id := fs.String("id", "", "identity of the bearer, e.g. a bridge point id (required)")
	name := fs.String("name", "", "display name (default: the id)")
	meeting := fs.String("meeting", "demo", "meeting (room) the token admits to")
	role := fs.String("role", "operator", "role: chair, secretary, operator, it_admin or viewer")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	if err := parse(fs, args, stderr, "Usage: cau token --id ID [flags]\nPrints a signed meeting token for development."); err != nil {
		return err
	}
	if *id == "" {
		fs.Usage()
		return errors.New("--id is required")
	}
	if *name == "" {
		*name = *id
	}
	var key []byte
	if *secret != "" {
		key = []byte(*secret)
	} else {
		var err error
		if key, err = app.LoadOrCreateSecret(*dataDir); err != nil {
			return err
		}
	}
	tokens, err := signaling.NewTokens(key)
	if err != nil {
		return err
	}
	tok, err := tokens.Mint(*id, *name, *meeting, *role, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
