//! Trust chains for `mtls renew-certificate`: a self-signed P-256 root for trust domain
//! `cluster.local` and an issuer certificate signed by it, as sentry expects them in the
//! `dapr-trust-bundle` Secret (`ca.crt`, `issuer.crt`, `issuer.key`, all PEM).
//!
//! Limits: validity has day precision (certificates start at the beginning of yesterday,
//! UTC, to tolerate clock skew, and end at midnight UTC after the requested days).

use chrono::{DateTime, Datelike, Utc};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::manifests::TrustChain;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("invalid root private key: {0}")]
    RootKey(String),
    #[error("generating certificates: {0}")]
    Generate(String),
}

fn ymd(t: DateTime<Utc>) -> (i32, u8, u8) {
    (t.year(), t.month() as u8, t.day() as u8)
}

fn params(
    now: DateTime<Utc>,
    valid_days: u32,
    path_len: Option<u8>,
) -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| CertError::Generate(e.to_string()))?;
    p.distinguished_name
        .push(DnType::OrganizationName, "cluster.local");
    p.distinguished_name
        .push(DnType::CommonName, "cluster.local");
    let (y, m, d) = ymd(now - chrono::Duration::days(1));
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(now + chrono::Duration::days(i64::from(valid_days)));
    p.not_after = rcgen::date_time_ymd(y, m, d);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// `openssl ecparam -genkey` writes SEC1 (`EC PRIVATE KEY`); the signer wants PKCS#8, so
/// wrap it: PrivateKeyInfo { 0, { id-ecPublicKey, prime256v1 }, OCTET STRING sec1 }.
fn sec1_to_pkcs8_pem(pem: &str) -> Option<String> {
    use base64::Engine;
    let sec1 = super::resources::pem_block(pem, "EC PRIVATE KEY")?;
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend(der(0x30, &[EC_PUBLIC_KEY, PRIME256V1].concat()));
    body.extend(der(0x04, &sec1));
    let pkcs8 = base64::engine::general_purpose::STANDARD.encode(der(0x30, &body));
    let lines: Vec<&str> = pkcs8
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Some(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    ))
}

/// A new root (from `root_key_pem` when given, else a fresh P-256 key) and issuer.
pub fn generate(
    root_key_pem: Option<&str>,
    valid_days: u32,
    now: DateTime<Utc>,
) -> Result<TrustChain, CertError> {
    let gen_err = |e: rcgen::Error| CertError::Generate(e.to_string());
    let root_key = match root_key_pem {
        Some(pem) => {
            let converted = sec1_to_pkcs8_pem(pem);
            KeyPair::from_pem(converted.as_deref().unwrap_or(pem))
                .map_err(|e| CertError::RootKey(e.to_string()))?
        }
        None => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?,
    };
    let root_params = params(now, valid_days, None)?;
    let root = root_params.self_signed(&root_key).map_err(gen_err)?;
    let issuer_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let issuer_cert = params(now, valid_days, Some(0))?
        .signed_by(&issuer_key, &Issuer::new(root_params, &root_key))
        .map_err(gen_err)?;
    Ok(TrustChain {
        ca_cert: root.pem(),
        issuer_cert: issuer_cert.pem(),
        issuer_key: issuer_key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_pem_and_lasts_the_requested_days() {
        let now = Utc::now();
        let chain = generate(None, 20, now).unwrap();
        assert!(chain.ca_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(chain.issuer_key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let after = super::super::resources::pem_not_after(chain.ca_cert.as_bytes()).unwrap();
        let days = (after - now).num_hours() as f64 / 24.0;
        assert!((19.0..=20.0).contains(&days), "{days}");
        let issuer_after =
            super::super::resources::pem_not_after(chain.issuer_cert.as_bytes()).unwrap();
        assert_eq!(issuer_after, after);
        assert!(generate(Some("not a key"), 1, now).is_err());
    }
}
