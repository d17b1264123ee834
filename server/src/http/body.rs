//! `JsonObject`, the extractor of every JSON request body: a JSON object, or 400 with the
//! usual error body.
//!
//! axum's `Json` hands serde whatever JSON came, and serde's derived structs also take an
//! array of their fields in order, so `[]` passed as a `PATCH` that changes nothing and
//! `["Naam"]` as a version's name (API fuzzing found it). Every body this API takes is an
//! object; anything else is refused before serde sees it.

use axum::Json;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A request body that must be a JSON object deserializing to `T`.
pub struct JsonObject<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonObject<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let Json(value) = Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(AppError::BadRequest("the body must be a JSON object".into()));
        }
        T::deserialize(value)
            .map(JsonObject)
            .map_err(|err| AppError::BadRequest(format!("invalid JSON body: {err}")))
    }
}

/// A body field that may be left out but is never `null` (`#[serde(default, with =
/// "present")]`): the schema says a string (or a list), and `null` is none of those, so it
/// is refused (400) instead of read as "left out" (API fuzzing found the difference).
pub mod present {
    use serde::{Deserialize, Deserializer};

    /// The field's value, which must not be `null`.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
        T::deserialize(d).map(Some)
    }
}
