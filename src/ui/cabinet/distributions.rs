//! Program distributions tab: the place the releases of the client's products will be
//! listed (the "Distributions" issue fills it).
use crate::web::cabinet::Visitor;
use crate::web::{UiResult, html_page, page, t};
use actix_web::http::StatusCode;
use maud::html;

pub async fn show(me: Visitor) -> UiResult {
    let l = me.lang;
    let ctx = me.ctx("distributions", None);
    let body = html! {
        h1 { (t(l, "Program distributions", "Дистрибутивы программ")) }
        section.card {
            p { (t(l, "Releases of your products will be listed here: filter them, read the changelog and download the file.",
                   "Здесь будут релизы ваших продуктов: отборы, история изменений и скачивание файла дистрибутива.")) }
            p.muted { (t(l, "No releases are published yet.", "Релизы пока не опубликованы.")) }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        page(
            &ctx,
            t(l, "Program distributions", "Дистрибутивы программ"),
            body,
        ),
    ))
}
