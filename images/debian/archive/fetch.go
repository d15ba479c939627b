package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
)

// FileSum is what a signed index says about a file: its size and SHA256.
type FileSum struct {
	Size   int64
	SHA256 string
}

func (a *Archive) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return http.DefaultClient
}

// open GETs url and returns the body of a 200 answer.
func (a *Archive) open(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &HTTPError{URL: url, Status: resp.StatusCode}
	}
	return resp.Body, nil
}

// fetchBounded reads a whole response of at most limit bytes.
func (a *Archive) fetchBounded(ctx context.Context, url string, limit int64) ([]byte, error) {
	body, err := a.open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes: %w", url, limit, ErrTooLarge)
	}
	return data, nil
}

// fetchVerified copies url into w and checks it against want. The bytes
// written to w are only trustworthy when it returns nil.
func (a *Archive) fetchVerified(ctx context.Context, url string, want FileSum, w io.Writer) error {
	body, err := a.open(ctx, url)
	if err != nil {
		return err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(body, want.Size+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return checkSum(url, want, n, h.Sum(nil))
}

// checkSum compares a size and digest with what the index promised.
func checkSum(what string, want FileSum, n int64, sum []byte) error {
	got := hex.EncodeToString(sum)
	if n != want.Size || got != want.SHA256 {
		return fmt.Errorf("verify %s: want %d bytes sha256:%s, got %d bytes sha256:%s: %w",
			what, want.Size, want.SHA256, n, got, ErrDigestMismatch)
	}
	return nil
}

// ValidSHA256 says whether s is 64 lowercase hex digits, the only form we
// accept before a digest becomes part of a path or a comparison.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
