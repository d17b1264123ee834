//! The action items of a school's meetings, gathered from their documents: what each
//! partner and participant took on, for the school's page ("Jouw openstaande acties").

use axum::Json;
use axum::extract::{Path, State};
use samen_crdt::meeting::Partner;
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::audit_read;
use super::meeting_close::meeting_text;
use super::meetings::table_of;
use crate::auth::Authenticated;
use crate::db::Institution;
use crate::error::{AppError, NotFound, Unauthenticated};
use crate::ids::MeetingId;
use crate::state::AppState;

/// One action item of a meeting.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolAction {
    /// The meeting's id.
    #[schema(value_type = String, format = "uuid")]
    pub meeting_id: MeetingId,
    /// The meeting's title.
    pub meeting_title: String,
    /// The meeting's day.
    pub meeting_held_on: String,
    /// What is to be done.
    pub what: String,
    /// Whose it is: `school`, `clb`, `lsc.<number>` or `user:<id>`.
    pub owner: String,
    /// By when (`YYYY-MM-DD`), or `""`.
    pub due: String,
    /// Whether it is done.
    pub done: bool,
    /// Whether it is the caller's: theirs by name, or their partner's.
    pub yours: bool,
}

/// A school's action items.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionList {
    /// The school.
    pub school: Institution,
    /// Latest meeting first, each meeting's in its order.
    pub actions: Vec<SchoolAction>,
}

/// The action items of a school's meetings, for everyone at its table, each marked when it
/// is the caller's.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/actions",
    tag = "meetings",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school and its meetings' action items.", body = ActionList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<ActionList>, AppError> {
    let (school, partners) = table_of(&state, &auth, &number).await?;
    audit_read(
        &state.db,
        &auth.user.id,
        "actions.list",
        school.number.clone(),
        None,
    )
    .await?;
    let mine: Vec<String> = partners
        .iter()
        .map(Partner::key)
        .chain([format!("user:{}", auth.user.id)])
        .collect();
    let mut actions = Vec::new();
    for meeting in state.db.meetings(school.id).await? {
        for item in meeting_text(&state, meeting.id).await?.actions {
            actions.push(SchoolAction {
                meeting_id: meeting.id,
                meeting_title: meeting.title.clone(),
                meeting_held_on: meeting.held_on.clone(),
                yours: mine.contains(&item.owner),
                what: item.what,
                owner: item.owner,
                due: item.due,
                done: item.done,
            });
        }
    }
    Ok(Json(ActionList { school, actions }))
}
