//! An item as the table's stream carries it (`NewImage`), in the attribute values of Lambda's
//! DynamoDB event (serde_dynamo's). The attributes are the DynamoDB adapter's (a test holds the
//! two together); the twin writes its stream records with [`item_image`].

use serde_dynamo::AttributeValue;

use crate::domain::{Item, Origin};
use crate::table::{attr, record_attr};

/// Why a `NewImage` is not an item this function can publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NewImage without a valid `{0}`")]
pub struct InvalidImage(pub &'static str);

/// The item's attributes as the items table holds them, and so as a stream record's `NewImage`.
pub fn item_image(item: &Item) -> serde_dynamo::Item {
    let image: std::collections::HashMap<String, AttributeValue> =
        crate::table::item_attributes(item)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), AttributeValue::S(value)))
            .collect();
    serde_dynamo::Item::from(image)
}

/// Whether `image` is an idempotency record's (which share the table): not an item.
pub fn is_record(image: &serde_dynamo::Item) -> bool {
    image.contains_key(record_attr::FINGERPRINT)
}

/// The string attribute `name`, if `image` has one.
pub fn text<'a>(image: &'a serde_dynamo::Item, name: &str) -> Option<&'a str> {
    match image.get(name)? {
        AttributeValue::S(v) => Some(v),
        _ => None,
    }
}

/// The item of an item's image; `origin` is `None` for items stored before it was recorded.
pub fn item_from_image(image: &serde_dynamo::Item) -> Result<Item, InvalidImage> {
    let required = |name| text(image, name).ok_or(InvalidImage(name));
    let id = required(attr::ID)?
        .parse()
        .map_err(|_| InvalidImage(attr::ID))?;
    let optional = |name| match image.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(_) => Err(InvalidImage(name)),
    };
    let origin = match optional(attr::REQUEST_ID)? {
        Some(request_id) => Some(Origin {
            request_id,
            trace_header: optional(attr::TRACE_HEADER)?,
        }),
        None => None,
    };
    Ok(Item {
        id,
        owner: required(attr::OWNER)?.to_owned(),
        name: required(attr::NAME)?.to_owned(),
        description: optional(attr::DESCRIPTION)?,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewItem;

    fn item(description: Option<&str>, origin: Option<Origin>) -> Item {
        let new = NewItem {
            name: "a lamp".into(),
            description: description.map(str::to_owned),
        };
        let item = Item::create("alice", new);
        match origin {
            Some(origin) => item.with_origin(origin),
            None => item,
        }
    }

    #[test]
    fn items_round_trip_through_their_image() {
        let origin = |trace_header: Option<&str>| Origin {
            request_id: "Jd8mXh3fIAMEbXw=".into(),
            trace_header: trace_header.map(str::to_owned),
        };
        for item in [
            item(None, None),
            item(Some("brass"), Some(origin(None))),
            item(
                Some("brass"),
                Some(origin(Some(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                ))),
            ),
        ] {
            let image = item_image(&item);
            assert!(!is_record(&image));
            assert_eq!(item_from_image(&image), Ok(item));
        }
    }

    #[test]
    fn broken_images_name_their_attribute() {
        let good = item_image(&item(
            Some("brass"),
            Some(Origin {
                request_id: "r".into(),
                trace_header: Some("Root=1-a-b".into()),
            }),
        ));
        for (name, value, want) in [
            (
                attr::ID,
                Some(AttributeValue::S("not-an-id".into())),
                attr::ID,
            ),
            (attr::OWNER, None, attr::OWNER),
            (attr::NAME, Some(AttributeValue::N("1".into())), attr::NAME),
            (
                attr::DESCRIPTION,
                Some(AttributeValue::Bool(true)),
                attr::DESCRIPTION,
            ),
            (
                attr::REQUEST_ID,
                Some(AttributeValue::Null(true)),
                attr::REQUEST_ID,
            ),
            (
                attr::TRACE_HEADER,
                Some(AttributeValue::N("2".into())),
                attr::TRACE_HEADER,
            ),
        ] {
            let mut image = good.clone();
            match value {
                Some(v) => image.insert(name.to_owned(), v),
                None => image.remove(name),
            };
            assert_eq!(item_from_image(&image), Err(InvalidImage(want)), "{name}");
        }
    }
}
