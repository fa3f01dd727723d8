package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The page is plain HTML, CSS and JavaScript, embedded: nothing to build,
// nothing fetched from elsewhere (the CSP would refuse it anyway).
//
//go:embed assets
var assetFS embed.FS

var assets, _ = fs.Sub(assetFS, "assets")

// servePage is GET /: the one page; it asks the API whether it is logged
// in and shows the login form or the panels.
func (c *Console) servePage(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, assets, "index.html")
}

// serveAsset is GET /assets/...: the page's script and styles.
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r) // files only: no listing
		return
	}
	http.StripPrefix("/assets/", http.FileServerFS(assets)).ServeHTTP(w, r)
}
