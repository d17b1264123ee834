//! What a user's link with a school lets them do: a rule of the domain (DESIGN.md, "Who may
//! do what"), read by the database queries that find the link, by rooms and by handlers.

/// The role a user has on a school's dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchoolAccess {
    /// CLB staff of a CLB that serves the school: read and write everything.
    Clb,
    /// A member of the school (`school_dossier`): read, write the shared sections.
    School,
    /// Staff of a learning-support centre (LSC) that serves the school: its meetings and
    /// their own LSC's agreements with it, never its registrations.
    Lsc,
}

impl SchoolAccess {
    /// Whether this access may write a section of a registration's document.
    pub fn may_write(self, section: samen_crdt::Section) -> bool {
        match self {
            SchoolAccess::Clb => true,
            SchoolAccess::School => section.school_may_write(),
            SchoolAccess::Lsc => false,
        }
    }

    /// Its name on the wire (`clb`, `school`, `lsc`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SchoolAccess::Clb => "clb",
            SchoolAccess::School => "school",
            SchoolAccess::Lsc => "lsc",
        }
    }
}
