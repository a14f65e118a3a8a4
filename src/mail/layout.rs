//! One letter, two renderings: a template builds a `Letter` of blocks once, and this
//! module writes it as plain text and as HTML (maud, so every value is escaped).
use super::{Ctx, Rendered};
use maud::{DOCTYPE, Markup, html};

/// A piece of a letter's body.
pub enum Block {
    /// A paragraph.
    P(String),
    /// A value the reader copies: a registration number, a one-time code.
    Code(String),
    /// A small table (the first row is the heading).
    Table(Vec<Vec<String>>),
    /// Named values, one per line: "Key: LIC-…".
    Facts(Vec<(String, String)>),
    /// A link with its label; in text the URL follows the label.
    Link(String, String),
}

pub struct Letter {
    pub subject: String,
    pub blocks: Vec<Block>,
    /// Why the reader gets this mail and how to stop it (empty: not said).
    pub footer: String,
}

impl Letter {
    pub fn new(subject: String) -> Letter {
        Letter {
            subject,
            blocks: Vec::new(),
            footer: String::new(),
        }
    }

    pub fn p(mut self, s: impl Into<String>) -> Letter {
        self.blocks.push(Block::P(s.into()));
        self
    }

    pub fn code(mut self, s: impl Into<String>) -> Letter {
        self.blocks.push(Block::Code(s.into()));
        self
    }

    pub fn table(mut self, rows: Vec<Vec<String>>) -> Letter {
        if rows.len() > 1 {
            self.blocks.push(Block::Table(rows));
        }
        self
    }

    pub fn facts(mut self, facts: Vec<(String, String)>) -> Letter {
        self.blocks.push(Block::Facts(facts));
        self
    }

    pub fn link(mut self, label: impl Into<String>, url: impl Into<String>) -> Letter {
        self.blocks.push(Block::Link(label.into(), url.into()));
        self
    }

    pub fn footer(mut self, s: impl Into<String>) -> Letter {
        self.footer = s.into();
        self
    }

    pub fn render(self, ctx: &Ctx) -> Rendered {
        let text = text(&self, ctx);
        let html = page(&self, ctx).into_string();
        Rendered {
            subject: self.subject,
            text,
            html,
        }
    }
}

fn text(l: &Letter, ctx: &Ctx) -> String {
    let mut out = String::new();
    for b in &l.blocks {
        match b {
            Block::P(s) => out.push_str(s),
            Block::Code(s) => {
                out.push_str("    ");
                out.push_str(s);
            }
            Block::Table(rows) => {
                let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
                let widths: Vec<usize> = (0..cols)
                    .map(|c| {
                        rows.iter()
                            .filter_map(|r| r.get(c))
                            .map(|s| s.chars().count())
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                for (i, r) in rows.iter().enumerate() {
                    let mut line = String::from("  ");
                    for (c, cell) in r.iter().enumerate() {
                        line.push_str(cell);
                        if c + 1 < r.len() {
                            let pad = widths[c].saturating_sub(cell.chars().count()) + 2;
                            line.push_str(&" ".repeat(pad));
                        }
                    }
                    out.push_str(line.trim_end());
                    if i == 0 {
                        out.push('\n');
                        out.push_str("  ");
                        out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * cols));
                    }
                    if i + 1 < rows.len() {
                        out.push('\n');
                    }
                }
            }
            Block::Facts(facts) => {
                let lines: Vec<String> = facts.iter().map(|(k, v)| format!("  {k}: {v}")).collect();
                out.push_str(&lines.join("\n"));
            }
            Block::Link(label, url) => {
                out.push_str(label);
                out.push_str(":\n    ");
                out.push_str(url);
            }
        }
        out.push_str("\n\n");
    }
    out.push_str("-- \n");
    out.push_str(ctx.vendor);
    out.push('\n');
    if !l.footer.is_empty() {
        out.push_str(&l.footer);
        out.push('\n');
    }
    out
}

fn page(l: &Letter, ctx: &Ctx) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (l.subject) }
            }
            body style="margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933" {
                div style="max-width:640px;margin:0 auto;padding:24px" {
                    div style="font-size:18px;font-weight:600;padding-bottom:12px;border-bottom:2px solid #2563eb" { (ctx.vendor) }
                    div style="background:#fff;padding:20px;margin-top:16px;border-radius:6px" {
                        @for b in &l.blocks {
                            (block(b))
                        }
                    }
                    @if !l.footer.is_empty() {
                        p style="font-size:12px;color:#6b7280;margin-top:16px" { (l.footer) }
                    }
                }
            }
        }
    }
}

fn block(b: &Block) -> Markup {
    match b {
        Block::P(s) => html! { p style="margin:0 0 14px 0;line-height:1.5" { (s) } },
        Block::Code(s) => html! {
            p style="margin:0 0 14px 0;font-family:Consolas,Menlo,monospace;font-size:20px;letter-spacing:1px" { strong { (s) } }
        },
        Block::Table(rows) => html! {
            table style="border-collapse:collapse;margin:0 0 14px 0;font-size:14px" {
                @if let Some(head) = rows.first() {
                    thead { tr { @for h in head { th style="text-align:left;padding:4px 10px 4px 0;border-bottom:1px solid #d1d5db" { (h) } } } }
                }
                tbody {
                    @for r in rows.iter().skip(1) {
                        tr { @for c in r { td style="padding:4px 10px 4px 0;border-bottom:1px solid #eef0f3" { (c) } } }
                    }
                }
            }
        },
        Block::Facts(facts) => html! {
            table style="border-collapse:collapse;margin:0 0 14px 0;font-size:14px" {
                @for (k, v) in facts {
                    tr { th style="text-align:left;padding:2px 12px 2px 0;color:#6b7280;font-weight:normal" { (k) } td style="padding:2px 0" { (v) } }
                }
            }
        },
        Block::Link(label, url) => html! {
            p style="margin:0 0 14px 0" {
                a href=(url) style="display:inline-block;background:#2563eb;color:#fff;text-decoration:none;padding:8px 14px;border-radius:4px" { (label) }
            }
        },
    }
}
