//! A real SMTP server on loopback that keeps what it is sent, shared by the
//! integration and the UI tests. It can also fail on demand (a 4xx or 5xx answer at a
//! chosen step) and hold its answer to a message (so a test can kill the sender
//! between handing a mail over and hearing it was accepted).
#![allow(dead_code)]
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A captured mail.
#[derive(Clone, Debug)]
pub struct SentMail {
    /// The envelope's recipients (RCPT TO), To and Cc alike.
    pub to: Vec<String>,
    pub data: String,
}

/// Where a planned failure answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// At MAIL FROM (before the message is handed over).
    Mail,
    /// After the message body (the message is not kept).
    Body,
}

#[derive(Default)]
struct Plan {
    failures: VecDeque<(Step, String)>,
    refused: Vec<String>,
}

/// A minimal real SMTP server on loopback that keeps what it is sent.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<SentMail>>>,
    plan: Arc<Mutex<Plan>>,
    hold: Arc<Mutex<Option<Step>>>,
    /// Connections accepted so far.
    pub sessions: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp");
        Self::serve(listener)
    }

    /// A sink on a given port (a test restarting a sink where a server expects it).
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind smtp");
        Self::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> SmtpSink {
        let port = listener.local_addr().expect("addr").port();
        let sink = SmtpSink {
            port,
            mails: Arc::new(Mutex::new(Vec::new())),
            plan: Arc::new(Mutex::new(Plan::default())),
            hold: Arc::new(Mutex::new(None)),
            sessions: Arc::new(AtomicUsize::new(0)),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                s.sessions.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(s.clone().session(sock));
            }
        });
        sink
    }

    async fn session(self, sock: tokio::net::TcpStream) {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        let _ = w.write_all(b"220 sink ESMTP\r\n").await;
        let mut to = Vec::new();
        let mut body_failure: Option<String> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                let _ = w
                    .write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await;
            } else if upper.starts_with("MAIL FROM:") {
                to.clear();
                if self.holding(Step::Mail) {
                    return self.silent(r).await;
                }
                let planned = self.plan.lock().expect("lock").failures.pop_front();
                match planned {
                    Some((Step::Mail, answer)) => {
                        let _ = w.write_all(format!("{answer}\r\n").as_bytes()).await;
                        continue;
                    }
                    Some((Step::Body, answer)) => body_failure = Some(answer),
                    None => body_failure = None,
                }
                let _ = w.write_all(b"250 ok\r\n").await;
            } else if upper.starts_with("RCPT TO:") {
                let addr = line[8..].trim().trim_matches(['<', '>']).to_owned();
                let refused = self
                    .plan
                    .lock()
                    .expect("lock")
                    .refused
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&addr));
                if refused {
                    let _ = w.write_all(b"550 5.1.1 no such user\r\n").await;
                } else {
                    to.push(addr);
                    let _ = w.write_all(b"250 ok\r\n").await;
                }
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
                    let l = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(l);
                }
                if let Some(answer) = body_failure.take() {
                    let _ = w.write_all(format!("{answer}\r\n").as_bytes()).await;
                    continue;
                }
                self.mails.lock().expect("lock").push(SentMail {
                    to: std::mem::take(&mut to),
                    data,
                });
                if self.holding(Step::Body) {
                    return self.silent(r).await;
                }
                let _ = w.write_all(b"250 2.0.0 queued\r\n").await;
            } else if upper.starts_with("QUIT") {
                let _ = w.write_all(b"221 bye\r\n").await;
                return;
            } else {
                let _ = w.write_all(b"250 ok\r\n").await;
            }
        }
    }

    /// The next transaction is answered `answer` (e.g. "451 4.3.0 try later") at `step`.
    pub fn fail_next(&self, step: Step, answer: &str) {
        self.plan
            .lock()
            .expect("lock")
            .failures
            .push_back((step, answer.to_owned()));
    }

    /// RCPT TO this address is refused with 550 from now on.
    pub fn refuse(&self, addr: &str) {
        self.plan
            .lock()
            .expect("lock")
            .refused
            .push(addr.to_owned());
    }

    /// From now on, never answer at `step` (at `Body` the message is kept first), or
    /// answer again (`None`): a test kills the sender while it waits.
    pub fn hold(&self, step: Option<Step>) {
        *self.hold.lock().expect("lock") = step;
    }

    fn holding(&self, step: Step) -> bool {
        *self.hold.lock().expect("lock") == Some(step)
    }

    /// Reads and ignores the rest of a session.
    async fn silent(&self, mut r: BufReader<tokio::net::tcp::OwnedReadHalf>) {
        let mut line = String::new();
        while r.read_line(&mut line).await.unwrap_or(0) > 0 {
            line.clear();
        }
    }

    pub fn sent(&self) -> Vec<SentMail> {
        self.mails.lock().expect("lock").clone()
    }

    /// Mails whose envelope includes `to`.
    pub fn sent_to(&self, to: &str) -> Vec<SentMail> {
        self.sent()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits up to `secs` for a mail to `to` and returns it.
    pub async fn wait_for(&self, to: &str, secs: u64) -> Option<SentMail> {
        self.wait_where(secs, |m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .await
    }

    /// Waits up to `secs` for a mail that `pick` accepts.
    pub async fn wait_where(
        &self,
        secs: u64,
        pick: impl Fn(&SentMail) -> bool,
    ) -> Option<SentMail> {
        for _ in 0..secs * 10 {
            if let Some(m) = self.sent().into_iter().find(|m| pick(m)) {
                return Some(m);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        None
    }
}

impl SentMail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .expect("a MIME message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.parsed()
            .header_raw(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// The addresses of the To (or Cc) header.
    pub fn header_addresses(&self, name: &str) -> Vec<String> {
        let p = self.parsed();
        let list = match name.to_ascii_lowercase().as_str() {
            "cc" => p.cc(),
            _ => p.to(),
        };
        list.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The subject and the decoded plain-text body, so a code or a link can be found.
    pub fn text(&self) -> String {
        let p = self.parsed();
        format!(
            "Subject: {}\n\n{}",
            p.subject().unwrap_or_default(),
            p.body_text(0).unwrap_or_default()
        )
    }

    /// The decoded HTML alternative ("" when there is none).
    pub fn html(&self) -> String {
        self.parsed()
            .parts
            .iter()
            .find_map(|part| match &part.body {
                mail_parser::PartType::Html(h) => Some(h.to_string()),
                _ => None,
            })
            .unwrap_or_default()
    }
}
