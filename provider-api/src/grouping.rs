//! The loop every provider shares: parse each request, group the requests
//! that share an identity (one login), resolve the groups concurrently, and
//! put the results back in the order of the requests.

use std::future::Future;

use futures_util::future::join_all;

use crate::error::{ErrorKind, ProviderError};
use crate::provider::{SecretRequest, SecretResult};

/// Checks every request with `parse` before any network call, for
/// [`Provider::preflight`](crate::Provider::preflight): the first failure,
/// with its variable named, stops the run.
///
/// ```
/// use ci_secrets_provider_api::{grouping, ErrorKind, ProviderError, SecretRequest};
///
/// let requests = [SecretRequest::new("A", "x".into()), SecretRequest::new("B", 1.into())];
/// let err = grouping::check_each(&requests, |request| {
///     request.block.as_str().map(|_| ()).ok_or_else(|| ProviderError::new(ErrorKind::Config, "not a string"))
/// })
/// .unwrap_err();
/// assert_eq!(err.to_string(), "B: not a string");
/// ```
pub fn check_each<T>(
    requests: &[SecretRequest],
    mut parse: impl FnMut(&SecretRequest) -> Result<T, ProviderError>,
) -> Result<(), ProviderError> {
    for request in requests {
        parse(request).map_err(|err| err.context(&request.variable))?;
    }
    Ok(())
}

/// Resolves `requests` one identity at a time.
///
/// `parse` turns a request into its identity (what a login depends on: a
/// token, an access id, a role) and the provider's typed item; a request it
/// refuses gets that error. The requests with equal identities form a group,
/// in first-seen order; `resolve_group` receives each group's identity and
/// items and returns one result per item, in their order, or one error that
/// every item of the group gets (a failed login, say). The groups run
/// concurrently. The results come back in the order of `requests`, one each.
///
/// ```
/// use ci_secrets_provider_api::{grouping, ErrorKind, ProviderError, SecretRequest, SecretValue};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let requests = [
///     SecretRequest::new("A", serde_json::json!({"user": "u1", "item": "a"})),
///     SecretRequest::new("B", serde_json::json!({"user": "u2", "item": "b"})),
///     SecretRequest::new("C", serde_json::json!({"user": "u1", "item": "c"})),
///     SecretRequest::new("D", serde_json::json!({})),
/// ];
/// let logins = std::sync::atomic::AtomicUsize::new(0);
/// let results = grouping::resolve_by_identity(
///     &requests,
///     |request| match (request.str_field("user"), request.str_field("item")) {
///         (Some(user), Some(item)) => Ok((user.to_string(), item.to_string())),
///         _ => Err(ProviderError::new(ErrorKind::Config, "user and item are required")),
///     },
///     |user, items| {
///         logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         async move {
///             if user == "u2" {
///                 return Err(ProviderError::new(ErrorKind::Auth, "login refused"));
///             }
///             Ok(items.iter().map(|item| Ok(SecretValue::text(format!("{user}:{item}")))).collect())
///         }
///     },
/// )
/// .await;
/// let shown: Vec<_> = results
///     .iter()
///     .map(|r| match r {
///         Ok(value) => value.expose_str().unwrap_or_default().to_string(),
///         Err(err) => err.to_string(),
///     })
///     .collect();
/// assert_eq!(shown, ["u1:a", "login refused", "u1:c", "user and item are required"]);
/// assert_eq!(logins.into_inner(), 2);
/// # });
/// ```
pub async fn resolve_by_identity<Id, Item, Fut>(
    requests: &[SecretRequest],
    mut parse: impl FnMut(&SecretRequest) -> Result<(Id, Item), ProviderError>,
    resolve_group: impl Fn(Id, Vec<Item>) -> Fut,
) -> Vec<SecretResult>
where
    Id: PartialEq,
    Fut: Future<Output = Result<Vec<SecretResult>, ProviderError>>,
{
    let mut results: Vec<Option<SecretResult>> = requests.iter().map(|_| None).collect();
    let mut groups: Vec<(Id, Vec<usize>, Vec<Item>)> = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        match parse(request) {
            Ok((identity, item)) => {
                match groups.iter_mut().find(|(known, _, _)| *known == identity) {
                    Some((_, indexes, items)) => {
                        indexes.push(index);
                        items.push(item);
                    }
                    None => groups.push((identity, vec![index], vec![item])),
                }
            }
            Err(err) => results[index] = Some(Err(err)),
        }
    }
    let (indexes, runs): (Vec<_>, Vec<_>) = groups
        .into_iter()
        .map(|(identity, indexes, items)| (indexes, resolve_group(identity, items)))
        .unzip();
    for (indexes, outcome) in indexes.into_iter().zip(join_all(runs).await) {
        match outcome {
            // A group that answers fewer items than it got leaves the rest
            // `None`, reported below; extra answers are dropped by the zip.
            Ok(group_results) => {
                for (index, result) in indexes.into_iter().zip(group_results) {
                    results[index] = Some(result);
                }
            }
            Err(err) => {
                for index in indexes {
                    results[index] = Some(Err(err.replicate()));
                }
            }
        }
    }
    results
        .into_iter()
        .zip(requests)
        .map(|(result, request)| {
            result.unwrap_or_else(|| {
                Err(ProviderError::new(
                    ErrorKind::Protocol,
                    format!("{}: the provider produced no result", request.variable),
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretValue;

    #[tokio::test]
    async fn a_group_that_answers_too_few_leaves_an_error_not_a_gap() {
        let requests = [
            SecretRequest::new("A", serde_json::Value::Null),
            SecretRequest::new("B", serde_json::Value::Null),
        ];
        let results = resolve_by_identity(
            &requests,
            |_| Ok(((), ())),
            |(), _items| async { Ok(vec![Ok(SecretValue::text("only one"))]) },
        )
        .await;
        assert_eq!(results.len(), 2);
        assert!(results[0].is_ok());
        let err = results[1].as_ref().err().map(ProviderError::to_string);
        assert_eq!(err.as_deref(), Some("B: the provider produced no result"));
    }

    #[test]
    fn check_each_names_the_variable() {
        let requests = [SecretRequest::new("A", serde_json::json!({"x": 1}))];
        let err = check_each(&requests, SecretRequest::parse_block::<String>).unwrap_err();
        assert_eq!(
            err.to_string(),
            "A: the block: invalid type: map, expected a string"
        );
    }
}
