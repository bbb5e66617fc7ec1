//! `include: component:` locations (`host/path/to/project/name@version`)
//! and the version a location asks for.

/// A parsed component location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ComponentLocation {
    /// The instance's host (and port), as written.
    pub host: String,
    /// The project's full path.
    pub project: String,
    /// The component's name (a template under `templates/`).
    pub name: String,
    /// What follows `@`.
    pub version: VersionRequest,
}

/// The version part of a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionRequest {
    /// `~latest`: the highest released version that is not a pre-release.
    Latest,
    /// `1` or `1.2`: the highest released version with that major (and minor).
    Partial { major: u64, minor: Option<u64> },
    /// Anything else (`1.2.3`, a tag, a branch, a commit SHA): used as the ref as it is.
    Exact(String),
}

/// Parses `location`, or says what is wrong with it.
pub(crate) fn parse(location: &str) -> Result<ComponentLocation, String> {
    let invalid = || {
        format!(
            "component `{location}`: a component location is `host/path/to/project/name@version`"
        )
    };
    let (path, version) = location.rsplit_once('@').ok_or_else(invalid)?;
    let (host, rest) = path.split_once('/').ok_or_else(invalid)?;
    let (project, name) = rest.rsplit_once('/').ok_or_else(invalid)?;
    if host.is_empty() || project.is_empty() || name.is_empty() || version.is_empty() {
        return Err(invalid());
    }
    Ok(ComponentLocation {
        host: host.to_owned(),
        project: project.to_owned(),
        name: name.to_owned(),
        version: parse_version(version),
    })
}

fn parse_version(version: &str) -> VersionRequest {
    if version == "~latest" {
        return VersionRequest::Latest;
    }
    let mut parts = version.split('.');
    let numbers: Option<Vec<u64>> = parts.by_ref().map(|part| part.parse().ok()).collect();
    match numbers.as_deref() {
        Some([major]) => VersionRequest::Partial {
            major: *major,
            minor: None,
        },
        Some([major, minor]) => VersionRequest::Partial {
            major: *major,
            minor: Some(*minor),
        },
        _ => VersionRequest::Exact(version.to_owned()),
    }
}

/// The tag among `tags` (the project's release tags) that `request` picks,
/// as the CI/CD catalog does: the highest semantic version; pre-releases are
/// only ever picked by their exact version.
pub(crate) fn pick<'a>(request: &VersionRequest, tags: &'a [String]) -> Option<&'a str> {
    let versions = tags.iter().filter_map(|tag| {
        semver::Version::parse(tag)
            .ok()
            .map(|version| (version, tag))
    });
    let matching = versions.filter(|(version, _)| match request {
        VersionRequest::Latest => version.pre.is_empty(),
        VersionRequest::Partial { major, minor } => {
            version.pre.is_empty()
                && version.major == *major
                && minor.is_none_or(|minor| version.minor == minor)
        }
        VersionRequest::Exact(exact) => version.to_string() == *exact,
    });
    matching
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, tag)| tag.as_str())
}

#[cfg(test)]
mod tests {
    use super::{ComponentLocation, VersionRequest, parse, pick};

    #[test]
    fn locations_split_into_host_project_name_and_version() {
        assert_eq!(
            parse("gitlab.example.com:8443/org/sub/deploy-tools/deploy@~latest"),
            Ok(ComponentLocation {
                host: "gitlab.example.com:8443".to_owned(),
                project: "org/sub/deploy-tools".to_owned(),
                name: "deploy".to_owned(),
                version: VersionRequest::Latest,
            })
        );
        assert_eq!(
            parse("h/p/n@1").map(|location| location.version),
            Ok(VersionRequest::Partial {
                major: 1,
                minor: None
            })
        );
        assert_eq!(
            parse("h/p/n@1.2").map(|location| location.version),
            Ok(VersionRequest::Partial {
                major: 1,
                minor: Some(2)
            })
        );
        for exact in [
            "1.2.3",
            "main",
            "e3262fdd0914fa823210cdb79a8c421e2cef79d8",
            "v1",
        ] {
            assert_eq!(
                parse(&format!("h/p/n@{exact}")).map(|location| location.version),
                Ok(VersionRequest::Exact(exact.to_owned()))
            );
        }
        for bad in ["h/p/n", "h/n@1", "/p/n@1", "h/p/@1", "h/p/n@"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_pick_the_highest_matching_release() {
        let tags: Vec<String> = [
            "1.0.0",
            "1.2.0",
            "1.2.5",
            "1.10.0",
            "2.0.0-rc.1",
            "0.9.0",
            "not-semver",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(pick(&VersionRequest::Latest, &tags), Some("1.10.0"));
        let partial = |major, minor| VersionRequest::Partial { major, minor };
        assert_eq!(pick(&partial(1, None), &tags), Some("1.10.0"));
        assert_eq!(pick(&partial(1, Some(2)), &tags), Some("1.2.5"));
        assert_eq!(pick(&partial(0, None), &tags), Some("0.9.0"));
        assert_eq!(pick(&partial(2, None), &tags), None);
        assert_eq!(pick(&partial(3, None), &tags), None);
        assert_eq!(pick(&VersionRequest::Latest, &[]), None);
    }
}
