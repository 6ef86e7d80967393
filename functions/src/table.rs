//! The items table's attributes, named once: the DynamoDB adapter writes them, the table's
//! stream carries them to the `item-events` function, the twin's store writes its stream
//! records with them.

/// Attributes of an item. Read by Terraform's table definition test too.
pub mod attr {
    pub const OWNER: &str = "owner";
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const DESCRIPTION: &str = "description";
    pub const CREATED_AT: &str = "created_at";
    /// The creating request's ids ([`crate::domain::Origin`]); absent on items stored before
    /// they were recorded, and `TRACE_HEADER` when the request had none.
    pub const REQUEST_ID: &str = "request_id";
    pub const TRACE_HEADER: &str = "trace_header";
}

/// Attributes of an idempotency record; its keys are [`attr::OWNER`] (`idem#<owner>`) and
/// [`attr::ID`] (the idempotency key). Records written when requests published events also
/// have `state`, `lease_until`, `event_published` and `version`, which nothing reads any more.
pub mod record_attr {
    /// The partition of an owner's records is this prefix and the owner's `sub`. A `sub` that
    /// spells such a partition would have to come from the trusted issuer, which can name any
    /// owner anyway (Cognito's are UUIDs).
    pub const PARTITION_PREFIX: &str = "idem#";
    /// Only records have it: the stream's filter (`events/item-events.filter.json`) lets
    /// through the INSERTs whose new image lacks it, i.e. items.
    pub const FINGERPRINT: &str = "fingerprint";
    pub const ITEM_ID: &str = "item_id";
    /// Epoch seconds: the table's TTL attribute (Terraform enables TTL on it).
    pub const EXPIRES_AT: &str = "expires_at";
}

/// An item's attributes as the table holds them, every one a string (`S`): the one mapping the
/// DynamoDB adapter writes and the stream's `NewImage` carries.
pub fn item_attributes(item: &crate::domain::Item) -> Vec<(&'static str, String)> {
    let mut attributes = vec![
        (attr::OWNER, item.owner.clone()),
        (attr::ID, item.id.to_string()),
        (attr::NAME, item.name.clone()),
    ];
    if let Some(d) = &item.description {
        attributes.push((attr::DESCRIPTION, d.clone()));
    }
    // Redundant with the id, kept for people reading the table in the console.
    attributes.push((attr::CREATED_AT, item.created_at_rfc3339()));
    if let Some(origin) = &item.origin {
        attributes.push((attr::REQUEST_ID, origin.request_id.clone()));
        if let Some(header) = &origin.trace_header {
            attributes.push((attr::TRACE_HEADER, header.clone()));
        }
    }
    attributes
}
