#include "app/static/mime.h"
#include "testutil.h"

int main(void)
{
    CHECK_STR(h3g_mime_type("index.html"), "text/html; charset=utf-8");
    CHECK_STR(h3g_mime_type("/a/b/INDEX.HTM"), "text/html; charset=utf-8");
    CHECK_STR(h3g_mime_type("style.css"), "text/css; charset=utf-8");
    CHECK_STR(h3g_mime_type("app.js"), "text/javascript; charset=utf-8");
    CHECK_STR(h3g_mime_type("data.json"), "application/json");
    CHECK_STR(h3g_mime_type("pic.PNG"), "image/png");
    CHECK_STR(h3g_mime_type("x.jpeg"), "image/jpeg");
    CHECK_STR(h3g_mime_type("font.woff2"), "font/woff2");
    CHECK_STR(h3g_mime_type("m.wasm"), "application/wasm");
    CHECK_STR(h3g_mime_type("a.svg"), "image/svg+xml");
    CHECK_STR(h3g_mime_type("z.zip"), "application/zip");
    CHECK_STR(h3g_mime_type("a.7z"), "application/x-7z-compressed");
    CHECK_STR(h3g_mime_type("noext"), "application/octet-stream");
    CHECK_STR(h3g_mime_type(".hidden"), "application/octet-stream");
    CHECK_STR(h3g_mime_type("dot."), "application/octet-stream");
    CHECK_STR(h3g_mime_type("dir.d/file"), "application/octet-stream");
    CHECK_STR(h3g_mime_type("a.unknownext"), "application/octet-stream");
    return TEST_RESULT();
}
