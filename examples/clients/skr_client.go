// Envelope encryption through skr-agent, Go standard library only (no modules to download).
//
// Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek] \
//         [SKR_READY_TIMEOUT=30] \
//         go run skr_client.go seal FILE TEXT | open FILE | rewrap FILE
// seal: a fresh 32-byte DEK, wrapped under the key by the agent (A256KW); TEXT encrypted locally
//       with AES-256-GCM under the DEK; FILE keeps the wrapped DEK, its kid, nonce, ciphertext.
// open: unwraps the DEK by the stored kid (versioned path), decrypts, prints the plaintext.
// rewrap: after a rotation, moves the wrapped DEK to the primary version and stores the new kid.

package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const alg = "A256KW" // RSA-OAEP-256 for an RSA key

var (
	socketPath = os.Getenv("SKR_AGENT_SOCKET")
	key        = envOr("SKR_KEY", "app-kek")
	b64        = base64.RawURLEncoding
	client     = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socketPath)
		}}}
)

// AgentError is a non-retryable answer, or a retryable one after the last attempt.
type AgentError struct {
	Status        int
	Code, Message string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("skr-agent: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

type envelope struct {
	Kid        string `json:"kid"`
	Alg        string `json:"alg"`
	WrappedDEK string `json:"wrapped_dek"`
	Nonce      string `json:"iv"`
	Ciphertext string `json:"ciphertext"` // AES-256-GCM output: ciphertext || 16-byte tag
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func send(method, path string, body any) (*http.Response, []byte, error) {
	var payload io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		payload = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://skr"+path, payload)
	req.Header.Set("X-SKR-Request", "1")
	req.Header.Set("Content-Type", "application/json")
	if t := os.Getenv("SKR_AGENT_TOKEN"); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

// call sends one request; 429/503 are retried after Retry-After (bounded), others are errors.
func call(method, path string, body any) (map[string]string, error) {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		resp, raw, err := send(method, path, body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 300 {
			out := map[string]string{}
			return out, json.Unmarshal(raw, &out)
		}
		if (resp.StatusCode != 429 && resp.StatusCode != 503) || attempt == attempts {
			var e struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
				e.Error.Code, e.Error.Message = "?", string(raw)
			}
			return nil, &AgentError{resp.StatusCode, e.Error.Code, e.Error.Message}
		}
		wait := 200 * time.Millisecond << attempt
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			wait = time.Duration(s) * time.Second
		}
		if wait > 10*time.Second {
			wait = 10 * time.Second
		}
		time.Sleep(wait)
	}
}

// waitReady polls GET /readyz with exponential backoff (0.1 s doubling, at most 2 s) within budget.
func waitReady(budget time.Duration) error {
	deadline, delay, last := time.Now().Add(budget), 100*time.Millisecond, "no answer"
	for time.Now().Before(deadline) {
		resp, raw, err := send("GET", "/readyz", nil)
		if err == nil && resp.StatusCode == 200 {
			return nil
		} else if err != nil { // socket not there yet, or the agent restarting
			last = err.Error()
		} else {
			last = fmt.Sprintf("HTTP %d %.120s", resp.StatusCode, raw)
		}
		time.Sleep(delay)
		if delay *= 2; delay > 2*time.Second {
			delay = 2 * time.Second
		}
	}
	return fmt.Errorf("skr-agent at %s not ready after %v: %s", socketPath, budget, last)
}

func version(kid string) string { return kid[strings.LastIndex(kid, "/")+1:] }

// gcm is AES-GCM with a 12-byte nonce and a 16-byte tag; dek must be 32 bytes (AES-256).
func gcm(dek []byte) (cipher.AEAD, error) {
	if len(dek) != 32 {
		return nil, fmt.Errorf("the DEK is %d bytes, expected 32", len(dek))
	}
	block, _ := aes.NewCipher(dek)
	return cipher.NewGCM(block)
}

func run(cmd, file, text string) error {
	budget, _ := strconv.ParseFloat(envOr("SKR_READY_TIMEOUT", "30"), 64)
	if err := waitReady(time.Duration(budget * float64(time.Second))); err != nil {
		return err
	}
	if cmd == "seal" {
		random := make([]byte, 32+12)
		if _, err := rand.Read(random); err != nil {
			return err
		}
		dek, nonce := random[:32], random[32:]
		wrapped, err := call("POST", "/keys/"+key+"/wrapkey",
			map[string]string{"alg": alg, "value": b64.EncodeToString(dek)})
		if err != nil {
			return err
		}
		aead, _ := gcm(dek)
		env := envelope{wrapped["kid"], alg, wrapped["value"], b64.EncodeToString(nonce),
			b64.EncodeToString(aead.Seal(nil, nonce, []byte(text), nil))}
		fmt.Println("sealed under " + env.Kid)
		return save(file, env)
	}
	var env envelope
	raw, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(raw, &env)
	}
	if err != nil {
		return err
	}
	if cmd == "open" { // at start-up: the stored kid names the version that wrapped the DEK
		out, err := call("POST", "/keys/"+key+"/"+version(env.Kid)+"/unwrapkey",
			map[string]string{"alg": env.Alg, "value": env.WrappedDEK})
		if err != nil {
			return err
		}
		dek, _ := b64.DecodeString(out["value"])
		nonce, _ := b64.DecodeString(env.Nonce)
		sealed, _ := b64.DecodeString(env.Ciphertext)
		aead, err := gcm(dek)
		if err != nil {
			return err
		}
		plain, err := aead.Open(nil, nonce, sealed, nil)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", file, err)
		}
		fmt.Println("plaintext: " + string(plain))
		return nil
	}
	moved, err := call("POST", "/keys/"+key+"/rewrap",
		map[string]string{"kid": env.Kid, "alg": env.Alg, "value": env.WrappedDEK})
	if err != nil {
		return err
	}
	fmt.Printf("rewrapped: %s -> %s\n", env.Kid, moved["kid"])
	env.Kid, env.WrappedDEK = moved["kid"], moved["value"]
	return save(file, env)
}

func save(file string, env envelope) error {
	raw, _ := json.Marshal(env)
	return os.WriteFile(file, raw, 0o600)
}

func main() {
	args := os.Args[1:]
	if socketPath == "" || len(args) < 2 || !(args[0] == "seal" && len(args) == 3 ||
		(args[0] == "open" || args[0] == "rewrap") && len(args) == 2) {
		fmt.Fprintln(os.Stderr, "usage: SKR_AGENT_SOCKET=PATH go run skr_client.go "+
			"seal FILE TEXT | open FILE | rewrap FILE")
		os.Exit(2)
	}
	text := ""
	if len(args) == 3 {
		text = args[2]
	}
	if err := run(args[0], args[1], text); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
