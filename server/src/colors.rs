//! Presence colours: the colour a person has on every screen, and colours that tell a
//! document's authors apart. Used by rooms (presence), history (diffs) and the API; its own
//! module so that none of them imports another for it.

use std::collections::HashMap;

use crate::ids::UserId;

/// Presence colours: distinct, and dark enough for white text and carets on white (WCAG AA).
const COLORS: [&str; 8] = [
    "#1f6feb", "#b3261e", "#0b7a3e", "#8e24aa", "#b45309", "#00796b", "#c2185b", "#4d5bd6",
];

/// A user's presence colour: the same in every document and session.
pub fn color_of(user: &UserId) -> &'static str {
    let hash = user
        .as_str()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    COLORS[hash as usize % COLORS.len()]
}

/// Colours for the people of one document, distinct where the palette allows: each gets
/// their own colour ([`color_of`]) unless someone before them (by id) has it, then the
/// first free one. Used where colours tell authors apart (diffs, the authorship view).
pub fn distinct_colors<'a>(users: impl IntoIterator<Item = &'a UserId>) -> HashMap<UserId, &'static str> {
    let mut users: Vec<&UserId> = users.into_iter().collect();
    users.sort();
    users.dedup();
    let mut out = HashMap::new();
    let mut taken: Vec<&'static str> = Vec::new();
    for user in users {
        let own = color_of(user);
        let color = if taken.contains(&own) {
            COLORS.iter().copied().find(|c| !taken.contains(c)).unwrap_or(own)
        } else {
            own
        };
        taken.push(color);
        out.insert(user.clone(), color);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_distinct_per_document_while_the_palette_lasts() {
        // Eight people, the first two sharing their own colour: the point of the function.
        let pool: Vec<UserId> = (0..200)
            .map(|i| UserId::from(format!("{i:x}-{}", i * 7919)))
            .collect();
        let twin = pool[1..]
            .iter()
            .find(|u| color_of(u) == color_of(&pool[0]))
            .expect("some user shares a colour with the first");
        let mut users: Vec<UserId> = vec![pool[0].clone(), twin.clone()];
        users.extend(
            pool.iter()
                .filter(|u| *u != twin && *u != &pool[0])
                .take(38)
                .cloned(),
        );
        let colors = distinct_colors(&users[..8]);
        let distinct: std::collections::HashSet<_> = colors.values().collect();
        assert_eq!(distinct.len(), 8);
        // Stable: the same people get the same colours, in any order; the first by id keeps
        // their own colour.
        let reversed: Vec<&UserId> = users[..8].iter().rev().collect();
        assert_eq!(distinct_colors(reversed), colors);
        let first = users[..8].iter().min().expect("users");
        assert_eq!(colors[first], color_of(first));
        // More people than colours: everyone still gets one.
        assert_eq!(distinct_colors(&users).len(), 40);
    }
}
