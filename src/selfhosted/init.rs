//! `dapr init` (self-hosted): lay out the install directory, install the `daprd` runtime
//! and write the default component and configuration files.
//!
//! Three runtime sources: the `daprd` shipped beside this `dapr` binary (default, no
//! network), an official release archive (`--runtime-version`, from GitHub or
//! `$DAPR_RELEASE_BASE_URL`, checked against `<archive>.sha256` when the release has one),
//! or an air-gapped installer bundle (`--from-dir`). The binary is written to a temporary
//! file and renamed over `bin/daprd`, so a re-run replaces it atomically even while a
//! sidecar runs. Files under the install directory are only written when absent: a re-run
//! never loses user edits. No containers are started (placement, scheduler, Redis and
//! Zipkin are out of scope here); download progress is reported through the
//! `report::Reporter`, never printed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use crate::error::Error;
use crate::home::DaprHome;
use crate::report::Reporter;

/// Where official release archives are downloaded from, unless `$DAPR_RELEASE_BASE_URL` says otherwise.
pub const DEFAULT_RELEASE_BASE_URL: &str = "https://github.com/dapr/dapr/releases/download";
pub const RELEASE_BASE_URL_ENV: &str = "DAPR_RELEASE_BASE_URL";

#[derive(Debug, Clone)]
pub enum RuntimeSource {
    /// A `daprd` binary on disk (the one shipped beside the CLI).
    Binary(PathBuf),
    /// An official release: `<base>/v<version>/daprd_<os>_<arch>.tar.gz`.
    Release { version: String, base_url: String },
    /// An air-gapped bundle directory (`details.json` + `<daprBinarySubDir>/daprd_<os>_<arch>.tar.gz`),
    /// its `details.json` read once by [`RuntimeSource::bundle`].
    Bundle {
        dir: PathBuf,
        details: BundleDetails,
    },
}

impl RuntimeSource {
    /// The bundle at `dir`, with its `details.json` read and validated.
    pub fn bundle(dir: PathBuf) -> Result<RuntimeSource, Error> {
        let details = read_bundle_details(&dir)?;
        Ok(RuntimeSource::Bundle { dir, details })
    }
}

/// The fields of an installer bundle's `details.json`.
#[derive(Debug, Clone, serde::Deserialize, Default)]
pub struct BundleDetails {
    #[serde(default)]
    pub daprd: String,
    #[serde(default)]
    pub cli: String,
    #[serde(default, rename = "daprBinarySubDir")]
    pub dapr_binary_sub_dir: String,
    #[serde(default, rename = "dockerImageSubDir")]
    pub docker_image_sub_dir: String,
    #[serde(default, rename = "daprImageName")]
    pub dapr_image_name: String,
    #[serde(default, rename = "daprImageFileName")]
    pub dapr_image_file_name: String,
}

/// Read and validate `<bundle>/details.json` (all fields but `cli` are required).
pub fn read_bundle_details(bundle: &Path) -> Result<BundleDetails, Error> {
    let path = bundle.join("details.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::msg(format!(
            "error parsing details file from bundle location: {}",
            crate::error::go_style_io("open", &path, &e)
        ))
    })?;
    let d: BundleDetails = serde_json::from_str(&text).map_err(|e| {
        Error::msg(format!(
            "error parsing details file from bundle location: {}: {e}",
            path.display()
        ))
    })?;
    let missing = [
        &d.daprd,
        &d.dapr_binary_sub_dir,
        &d.docker_image_sub_dir,
        &d.dapr_image_name,
        &d.dapr_image_file_name,
    ]
    .iter()
    .any(|v| v.trim().is_empty());
    if missing {
        return Err(Error::msg(format!(
            "error parsing details file from bundle location: required fields are missing in {}",
            path.display()
        )));
    }
    Ok(d)
}

/// `linux`, `darwin`, `windows` — Go's GOOS names, used in archive names.
pub fn goos() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Go's GOARCH names.
pub fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        other => other,
    }
}

/// `daprd_<os>_<arch>.tar.gz`.
pub fn archive_name(binary: &str) -> String {
    format!("{binary}_{}_{}.tar.gz", goos(), goarch())
}

/// The runtime version the source will install (bundles: `details.json`'s `daprd`).
pub fn source_version(source: &RuntimeSource) -> String {
    match source {
        RuntimeSource::Binary(_) => crate::VERSION.to_string(),
        RuntimeSource::Release { version, .. } => version.trim_start_matches('v').to_string(),
        RuntimeSource::Bundle { details, .. } => details.daprd.trim_start_matches('v').to_string(),
    }
}

/// Create `bin/` and `components/` (0755).
pub fn create_layout(home: &DaprHome) -> Result<(), Error> {
    if let Some(base) = home.root().parent()
        && base.exists()
        && !base.is_dir()
    {
        return Err(Error::msg(format!(
            "cannot install into {}: {} is not a directory; --runtime-path (or \
             DAPR_RUNTIME_PATH) must name a directory",
            home.root().display(),
            base.display()
        )));
    }
    for dir in [
        home.root().to_path_buf(),
        home.bin_dir(),
        home.components_dir(),
    ] {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    }
    Ok(())
}

/// What `install_runtime` put into `bin/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub version: String,
    /// Control-plane binaries installed besides `daprd` (slim installs): `placement`, `scheduler`.
    pub extras: Vec<String>,
}

/// Whether `version` has a scheduler service (1.14 onwards, prerelease ignored).
fn has_scheduler(version: &str) -> bool {
    semver::Version::parse(version).is_ok_and(|v| (v.major, v.minor) >= (1, 14))
}

/// The bytes of `name` from `source`. `Ok(None)` when a binary source has no such sibling.
fn fetch_binary(
    source: &RuntimeSource,
    version: &str,
    name: &str,
    reporter: &dyn Reporter,
) -> Result<Option<Vec<u8>>, Error> {
    match source {
        RuntimeSource::Binary(daprd) => {
            let path = daprd.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            match std::fs::read(&path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && name != "daprd" => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::msg(format!(
                    "the daprd runtime shipped with this CLI was not found at {}; reinstall the CLI or use --runtime-version <version> to download an official runtime",
                    path.display()
                ))),
                Err(e) => Err(Error::io("read", &path, e)),
            }
        }
        RuntimeSource::Release { base_url, .. } => {
            let archive_file = archive_name(name);
            let url = format!(
                "{}/v{version}/{archive_file}",
                base_url.trim_end_matches('/')
            );
            let archive = download(&url, reporter)?;
            if let Some(expected) = fetch_checksum(&format!("{url}.sha256"))? {
                let actual = hex::encode(sha2::Sha256::digest(&archive));
                if !actual.eq_ignore_ascii_case(&expected) {
                    return Err(Error::msg(format!(
                        "checksum mismatch for {archive_file}: expected {expected}, got {actual}; the download is corrupt, nothing was installed"
                    )));
                }
            }
            extract_binary(&archive, name, &archive_file).map(Some)
        }
        RuntimeSource::Bundle { dir, details } => {
            let path = dir
                .join(&details.dapr_binary_sub_dir)
                .join(archive_name(name));
            let archive = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            extract_binary(&archive, name, &path.display().to_string()).map(Some)
        }
    }
}

/// Install `bin/daprd` from `source` (with `slim`, also `placement` and, for runtimes from
/// 1.14 on, `scheduler`, as the official slim init does) and record the runtime version.
/// Everything is fetched and verified before the install directory is touched.
pub fn install_runtime(
    home: &DaprHome,
    source: &RuntimeSource,
    slim: bool,
    reporter: &dyn Reporter,
) -> Result<Installed, Error> {
    let version = source_version(source);
    let mut names = vec!["daprd"];
    if slim {
        names.push("placement");
        if has_scheduler(&version) || matches!(source, RuntimeSource::Binary(_)) {
            names.push("scheduler");
        }
    }
    let mut fetched = Vec::new();
    for name in names {
        if let Some(bytes) = fetch_binary(source, &version, name, reporter)? {
            fetched.push((name, bytes));
        }
    }
    create_layout(home)?;
    let mut extras = Vec::new();
    for (name, bytes) in &fetched {
        let path = home
            .bin_dir()
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        write_executable(&path, bytes)?;
        if *name != "daprd" {
            extras.push(name.to_string());
        }
    }
    let vf = home.runtime_version_file();
    std::fs::write(&vf, format!("{version}\n")).map_err(|e| Error::io("write", &vf, e))?;
    Ok(Installed { version, extras })
}

/// Write `bytes` to a temporary sibling, make it executable, rename it over `path`.
fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("bin"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io("write", &tmp, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("make executable", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("install", path, e)
    })
}

fn http_client() -> Result<reqwest::blocking::Client, Error> {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
        .user_agent(concat!("dapr-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::msg(format!("cannot create an HTTP client: {e}")))
}

/// Download `url` into memory, reporting progress. 404 → `version not found from url`.
fn download(url: &str, reporter: &dyn Reporter) -> Result<Vec<u8>, Error> {
    let mut resp = http_client()?
        .get(url)
        .send()
        .map_err(|e| Error::msg(format!("error downloading {url}: {e}")))?;
    match resp.status().as_u16() {
        200 => {}
        404 => return Err(Error::msg(format!("version not found from url: {url}"))),
        code => return Err(Error::msg(format!("download failed with {code}"))),
    }
    // Read the length now: reqwest's value shrinks as the body is consumed.
    let expected = resp.content_length();
    reporter.download_started(url, expected);
    let mut body = Vec::with_capacity(expected.unwrap_or(0) as usize);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = resp
            .read(&mut buf)
            .map_err(|e| Error::msg(format!("error downloading {url}: {e}")))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        reporter.download_progress(body.len() as u64);
    }
    reporter.download_finished();
    if let Some(total) = expected
        && body.len() as u64 != total
    {
        return Err(Error::msg(format!(
            "error downloading {url}: got {} of {total} bytes",
            body.len()
        )));
    }
    Ok(body)
}

/// The expected SHA-256 from `<archive>.sha256` (`<hex>  <name>`), `None` if the release
/// has no checksum file.
fn fetch_checksum(url: &str) -> Result<Option<String>, Error> {
    let resp = http_client()?
        .get(url)
        .send()
        .map_err(|e| Error::msg(format!("error downloading {url}: {e}")))?;
    if resp.status().as_u16() == 404 {
        return Ok(None);
    }
    if !resp.status().is_success() {
        return Err(Error::msg(format!(
            "error downloading {url}: status {}",
            resp.status().as_u16()
        )));
    }
    let text = resp
        .text()
        .map_err(|e| Error::msg(format!("error downloading {url}: {e}")))?;
    let hexsum = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    if hexsum.len() != 64 || !hexsum.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::msg(format!(
            "invalid checksum file {url}: expected a SHA-256 hex digest"
        )));
    }
    Ok(Some(hexsum))
}

/// The file named `binary` (any directory) inside a `.tar.gz`.
pub fn extract_binary(archive: &[u8], binary: &str, label: &str) -> Result<Vec<u8>, Error> {
    let bad =
        |e: std::io::Error| Error::msg(format!("{label} is not a valid .tar.gz archive: {e}"));
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if entry.header().entry_type().is_file()
            && (name == binary || name == format!("{binary}.exe"))
        {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).map_err(bad)?;
            return Ok(out);
        }
    }
    Err(Error::msg(format!("{binary} was not found in {label}")))
}

/// Whether something accepts TCP connections at `addr` (`host:port`) within 300 ms.
pub fn tcp_answers(addr: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
}

/// Which default components to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Components {
    /// The official Redis `statestore` and `pubsub` for `host:port`.
    Redis(String),
    /// A SQLite `statestore` and `pubsub` in the install directory (no server needed).
    Sqlite,
    /// None (slim, air-gapped).
    Empty,
}

/// Write `config.yaml` and the components, each only if absent. Returns the files written.
pub fn write_defaults(
    home: &DaprHome,
    components: &Components,
    config: &str,
) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<(PathBuf, String)> = vec![(home.config_file(), config.to_string())];
    let dir = home.components_dir();
    match components {
        Components::Redis(host) => {
            files.push((
                dir.join("statestore.yaml"),
                crate::manifests::statestore_redis(host),
            ));
            files.push((
                dir.join("pubsub.yaml"),
                crate::manifests::pubsub_redis(host),
            ));
        }
        Components::Sqlite => {
            files.push((
                dir.join("statestore.yaml"),
                crate::manifests::statestore_sqlite(&home.state_db()),
            ));
            files.push((
                dir.join("pubsub.yaml"),
                crate::manifests::pubsub_sqlite(&home.pubsub_db()),
            ));
        }
        Components::Empty => {}
    }
    let mut written = Vec::new();
    for (path, content) in files {
        if path.exists() {
            continue;
        }
        std::fs::write(&path, content).map_err(|e| Error::io("write", &path, e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(name: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn scheduler_from_1_14() {
        assert!(has_scheduler("1.14.0") && has_scheduler("1.14.0-rc.1") && has_scheduler("1.18.3"));
        assert!(!has_scheduler("1.13.6") && !has_scheduler("edge"));
    }

    #[test]
    fn finds_the_binary_in_any_directory() {
        let a = tgz("release/linux/daprd", b"bin");
        assert_eq!(extract_binary(&a, "daprd", "a").unwrap(), b"bin");
        assert!(extract_binary(&a, "placement", "a").is_err());
        assert!(extract_binary(b"garbage", "daprd", "a").is_err());
    }
}
