//! Staff: distributors, users and admin-API tokens.
use super::prelude::*;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewDistributor {
    /// 1–40 letters, digits, `.`, `_`, `-`; kept lower-cased. Clients and distributor
    /// users refer to it.
    pub code: String,
    pub name: String,
    /// Where the notifications of the distributor's clients go.
    pub email: String,
}

/// Add a distributor (admin); a code already taken is 409.
#[utoipa::path(post, path = "/api/admin/v1/distributors", tag = "admin", security(("bearer" = [])),
    request_body = NewDistributor,
    responses((status = 201, body = DistributorView), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn create_distributor(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewDistributor>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let b = body.0;
    let d = distributors::create(&app, &b.code, &b.name, &b.email).await?;
    audited(&app, &staff, "distributor_create", &d.code, &d.name).await;
    Ok(HttpResponse::Created().json(DistributorView::from(&d)))
}

/// Every distributor, by code (admin).
#[utoipa::path(get, path = "/api/admin/v1/distributors", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<DistributorView>), (status = 401), (status = 403)))]
pub async fn list_distributors(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let tx = app.store.read()?;
    let list: Vec<DistributorView> = distributors::list(&tx)?
        .iter()
        .map(DistributorView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Add a staff user (admin). Without `password` the user has no usable one and is
/// mailed a single-use link (24 h) to set it; `email` is then required. A login
/// already taken is 409; the answer never holds a password hash.
#[utoipa::path(post, path = "/api/admin/v1/users", tag = "admin", security(("bearer" = [])),
    request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn create_user(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewUser>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let actor = format!("api:{}", staff.token.name);
    let u = users::create(&app, body.0, &actor).await?;
    Ok(HttpResponse::Created().json(UserView::from(&u)))
}

/// Every staff user, by login (admin); never a password hash.
#[utoipa::path(get, path = "/api/admin/v1/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 401), (status = 403)))]
pub async fn list_users(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let tx = app.store.read()?;
    let list: Vec<UserView> = users::list(&tx)?.iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Admin-API tokens (admin).
#[utoipa::path(get, path = "/api/admin/v1/tokens", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401), (status = 403)))]
pub async fn list_tokens(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let tx = app.store.read()?;
    let list: Vec<TokenView> = auth::list_tokens(&tx)?
        .iter()
        .map(TokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub name: String,
    /// admin or manager
    pub role: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret, shown this once.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

/// Make a token; its secret is in this answer only (admin).
#[utoipa::path(post, path = "/api/admin/v1/tokens", tag = "admin", security(("bearer" = [])),
    request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400), (status = 401), (status = 403)))]
pub async fn create_token(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewToken>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let role =
        Role::parse(&body.0.role).ok_or_else(|| AppError::malformed("role", "admin or manager"))?;
    let actor = format!("api:{}", staff.token.name);
    let (secret, t) = auth::create_token(&app.store, &body.0.name, role, app.now(), &actor).await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: secret,
        info: TokenView::from(&t),
    }))
}

/// Revoke a token (admin).
#[utoipa::path(delete, path = "/api/admin/v1/tokens/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = TokenView), (status = 401), (status = 403), (status = 404)))]
pub async fn revoke_token(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound { what: "token" })?;
    let actor = format!("api:{}", staff.token.name);
    let t = auth::revoke_token(&app.store, id, app.now(), &actor).await?;
    Ok(HttpResponse::Ok().json(TokenView::from(&t)))
}
