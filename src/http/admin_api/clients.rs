//! Clients: find, create, change, merge, delete; a new key for one.
use super::prelude::*;

/// Create a client by hand.
#[utoipa::path(post, path = "/api/admin/v1/clients", tag = "admin", request_body = ClientInput,
    security(("bearer" = [])),
    responses((status = 201, body = ClientView), (status = 400), (status = 401)))]
pub async fn create_client(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<ClientInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let c = clients::create(&app, body.0).await?;
    audited(
        &app,
        &staff,
        "client_create",
        &format!("client {}", c.id),
        &c.company,
    )
    .await;
    Ok(HttpResponse::Created().json(c))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ClientQuery {
    /// Quick search over company, contact, phone, e-mail, comment.
    pub q: Option<String>,
    pub crm_id1: Option<String>,
    pub crm_id2: Option<String>,
    /// Default 100, at most 1000.
    pub limit: Option<String>,
    pub offset: Option<String>,
}

/// Find clients: quick search, CRM ids, paging (newest first). The total number of
/// matches is in the `X-Total-Count` header.
#[utoipa::path(get, path = "/api/admin/v1/clients", tag = "admin", security(("bearer" = [])),
    params(ClientQuery),
    responses((status = 200, body = Vec<ClientView>), (status = 400), (status = 401)))]
pub async fn list_clients(
    app: web::Data<App>,
    _staff: Staff,
    q: web::Query<ClientQuery>,
) -> AppResult<HttpResponse> {
    let limit = parse_num("limit", &q.limit, 100)?;
    if limit == 0 || limit > 1000 {
        return Err(AppError::malformed("limit", "1 to 1000"));
    }
    let offset = parse_num("offset", &q.offset, 0)?;
    let (list, total) = clients::list(
        &app,
        &ListQuery {
            q: q.q.clone().filter(|s| !s.trim().is_empty()),
            crm_id1: q.crm_id1.clone().filter(|s| !s.trim().is_empty()),
            crm_id2: q.crm_id2.clone().filter(|s| !s.trim().is_empty()),
            limit,
            offset,
        },
    )?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(list))
}

#[utoipa::path(get, path = "/api/admin/v1/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = ClientView), (status = 401), (status = 404)))]
pub async fn get_client(
    app: web::Data<App>,
    _staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(clients::get(&app, parse_id(&id)?)?))
}

/// Change the fields sent.
#[utoipa::path(patch, path = "/api/admin/v1/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)), request_body = ClientInput,
    responses((status = 200, body = ClientView), (status = 400), (status = 401), (status = 404)))]
pub async fn update_client(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
    body: JsonBody<ClientInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let c = clients::update(&app, parse_id(&id)?, body.0).await?;
    audited(
        &app,
        &staff,
        "client_update",
        &format!("client {}", c.id),
        &c.company,
    )
    .await;
    Ok(HttpResponse::Ok().json(c))
}

/// Delete a client (refused while it has keys with items).
#[utoipa::path(delete, path = "/api/admin/v1/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = ClientView), (status = 401), (status = 404), (status = 409)))]
pub async fn delete_client(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let c = clients::delete(&app, parse_id(&id)?).await?;
    audited(
        &app,
        &staff,
        "client_delete",
        &format!("client {}", c.id),
        &c.company,
    )
    .await;
    Ok(HttpResponse::Ok().json(c))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MergeInput {
    /// The surviving client.
    pub into: u64,
    /// Clients whose keys move to `into`; they are then deleted.
    pub from: Vec<u64>,
}

/// Merge duplicates: the survivor keeps its card, all keys of the others move to it.
#[utoipa::path(post, path = "/api/admin/v1/clients/merge", tag = "admin", security(("bearer" = [])),
    request_body = MergeInput,
    responses((status = 200, body = ClientView), (status = 400), (status = 401), (status = 404), (status = 409)))]
pub async fn merge_clients(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<MergeInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let detail = format!("{:?} -> {}", body.0.from, body.0.into);
    let c = clients::merge(&app, body.0.into, body.0.from).await?;
    audited(
        &app,
        &staff,
        "client_merge",
        &format!("client {}", c.id),
        &detail,
    )
    .await;
    Ok(HttpResponse::Ok().json(c))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewKey {
    pub regnum: String,
}

/// Generate an empty key for a client.
#[utoipa::path(post, path = "/api/admin/v1/clients/{id}/keys", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 201, body = NewKey), (status = 401), (status = 404)))]
pub async fn create_key(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let regnum = keys::create_for_client(&app, parse_id(&id)?).await?;
    audited(
        &app,
        &staff,
        "key_create",
        &regnum,
        &format!("client {}", id.trim()),
    )
    .await;
    Ok(HttpResponse::Created().json(NewKey { regnum }))
}
