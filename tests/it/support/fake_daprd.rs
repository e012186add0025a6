//! A stand-in sidecar for CLI tests that need one whatever the real daprd can do: a process
//! whose executable is named `daprd` (a copy of the Python interpreter, so `dapr list` and
//! `dapr stop` find it by name) serving the metadata document `{"id","extended"}` on every
//! GET and answering every POST with 204, recording its path and body when asked to.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{KillOnDrop, hermetic, wait_until};

pub struct FakeDaprd<'a> {
    pub dir: &'a Path,
    pub app_id: &'a str,
    pub http_port: u16,
    pub extended: serde_json::Value,
    /// Where each POST's `<path> <body>` is written (the last one wins).
    pub received: Option<&'a Path>,
    /// More command-line arguments, as `dapr list` reads them from the process.
    pub args: &'a [&'a str],
}

impl FakeDaprd<'_> {
    /// Starts the process in `dir` (its HOME too) and waits for its port.
    pub fn start(&self) -> KillOnDrop {
        let real = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3");
        let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
        let exe = self.dir.join("daprd");
        if !exe.exists() {
            std::fs::copy(&real, &exe).unwrap();
        }
        let body = serde_json::json!({ "id": self.app_id, "extended": self.extended }).to_string();
        let record = match self.received {
            Some(p) => format!(
                "open({:?}, 'wb').write(s.path.encode() + b' ' + b)",
                p.display().to_string()
            ),
            None => "pass".to_string(),
        };
        let port = self.http_port;
        let script = format!(
            "import http.server\nB={body:?}.encode()\nclass H(http.server.BaseHTTPRequestHandler):\n  def do_GET(s):\n    s.send_response(200); s.send_header('Content-Length', str(len(B))); s.end_headers(); s.wfile.write(B)\n  def do_POST(s):\n    b=s.rfile.read(int(s.headers.get('Content-Length', 0)))\n    {record}\n    s.send_response(204); s.end_headers()\n  def log_message(s,*a): pass\nhttp.server.HTTPServer(('127.0.0.1',{port}),H).serve_forever()\n"
        );
        let mut cmd = Command::new(&exe);
        hermetic(&mut cmd, self.dir)
            .env("DAPR_RUNTIME_PATH", self.dir)
            .args(["-c", &script, "--app-id", self.app_id])
            .args(["--dapr-http-port", &port.to_string()])
            .args(self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = KillOnDrop(cmd.spawn().unwrap());
        assert!(wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }));
        child
    }
}
