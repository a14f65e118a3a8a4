//! A real SMTP server on loopback that keeps what it is sent, shared by the
//! integration and the UI tests.
#![allow(dead_code)]
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A captured mail.
#[derive(Clone, Debug)]
pub struct SentMail {
    pub to: Vec<String>,
    pub data: String,
}

/// A minimal real SMTP server on loopback that keeps what it is sent.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<SentMail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = mails.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let m = m.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let mut to = Vec::new();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let upper = line.to_ascii_uppercase();
                        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            let _ = w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await;
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                            let _ = w.write_all(b"250 ok\r\n").await;
                        } else if upper.starts_with("DATA") {
                            let _ = w.write_all(b"354 go\r\n").await;
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" || line == ".\n" {
                                    break;
                                }
                                data.push_str(&line);
                            }
                            m.lock().expect("lock").push(SentMail {
                                to: std::mem::take(&mut to),
                                data,
                            });
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else if upper.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            let _ = w.write_all(b"250 ok\r\n").await;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    pub fn sent(&self) -> Vec<SentMail> {
        self.mails.lock().expect("lock").clone()
    }

    /// Waits up to `secs` for a mail to `to` and returns it.
    pub async fn wait_for(&self, to: &str, secs: u64) -> Option<SentMail> {
        for _ in 0..secs * 10 {
            if let Some(m) = self
                .sent()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t == to))
            {
                return Some(m);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        None
    }
}

impl SentMail {
    /// The message's headers, then its body decoded from its transfer encoding (base64
    /// or quoted-printable) — each part's body in turn when it is multipart — so a code
    /// or a link can be found in it.
    pub fn text(&self) -> String {
        let data = self.data.replace("\r\n", "\n");
        let (head, body) = data.split_once("\n\n").unwrap_or((&data, ""));
        let decoded = match boundary(head) {
            Some(b) => body
                .split(&format!("--{b}"))
                .filter_map(|part| part.trim_start_matches('\n').split_once("\n\n"))
                .map(|(h, b)| decode(h, b))
                .collect::<Vec<_>>()
                .join("\n"),
            None => decode(head, body),
        };
        format!("{head}\n\n{decoded}")
    }
}

/// The boundary of a multipart message's head (its header may be folded).
fn boundary(head: &str) -> Option<String> {
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let ct = unfolded.lines().find(|l| {
        l.to_ascii_lowercase()
            .starts_with("content-type: multipart/")
    })?;
    let at = ct.find("boundary=")? + 9;
    Some(
        ct[at..]
            .trim_matches('"')
            .split('"')
            .next()
            .unwrap_or("")
            .to_owned(),
    )
}

/// A body decoded by the transfer encoding its head names.
fn decode(head: &str, body: &str) -> String {
    let enc = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-transfer-encoding:")
        })
        .map(|l| l[26..].trim().to_ascii_lowercase())
        .unwrap_or_default();
    match enc.as_str() {
        "base64" => {
            use base64::Engine;
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
        "quoted-printable" => {
            let joined = body.replace("=\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'='
                    && let Some(b) = std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(bytes[i]);
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        _ => body.to_owned(),
    }
}
