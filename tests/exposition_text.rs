//! The Prometheus text writer and the JSON health report, byte for byte.

use breakwater::exposition::{
    Component, Detail, MetricKind, Sample, Status, encode_text, format_value, health_json,
    overall_status, write_text,
};

#[test]
fn families_group_their_samples_under_one_help_and_type() {
    let payments = [("service", "payments")];
    let authors = [("service", "authors")];
    let text = encode_text(&[
        Sample::gauge("bw_breaker_state", 0.0)
            .with_help("Breaker state: 0 closed, 1 open, 2 half-open.")
            .with_labels(&payments),
        Sample::counter("bw_breaker_failures_total", 4.0)
            .with_help("Failures recorded.")
            .with_labels(&payments),
        Sample::gauge("bw_breaker_state", 1.0)
            .with_help("ignored: the first sample's help wins")
            .with_labels(&authors),
        Sample::counter("bw_breaker_failures_total", 17.0).with_labels(&authors),
        Sample::new("bw_up", MetricKind::Untyped, 1.0),
    ]);
    let expected = [
        "# HELP bw_breaker_state Breaker state: 0 closed, 1 open, 2 half-open.",
        "# TYPE bw_breaker_state gauge",
        "bw_breaker_state{service=\"payments\"} 0",
        "bw_breaker_state{service=\"authors\"} 1",
        "# HELP bw_breaker_failures_total Failures recorded.",
        "# TYPE bw_breaker_failures_total counter",
        "bw_breaker_failures_total{service=\"payments\"} 4",
        "bw_breaker_failures_total{service=\"authors\"} 17",
        "# TYPE bw_up untyped",
        "bw_up 1",
    ];
    assert_eq!(text, expected.join("\n") + "\n");
}

#[test]
fn label_values_and_help_are_escaped() {
    let labels = [("path", "C:\\tmp\\\"x\"\nnext"), ("emoji", "é ✓")];
    let text = encode_text(&[Sample::gauge("g", 2.0)
        .with_help("line one\nback\\slash \"quoted\"")
        .with_labels(&labels)]);
    assert_eq!(
        text,
        "# HELP g line one\\nback\\\\slash \"quoted\"\n# TYPE g gauge\n\
         g{path=\"C:\\\\tmp\\\\\\\"x\\\"\\nnext\",emoji=\"é ✓\"} 2\n"
    );
}

#[test]
fn invalid_names_are_made_valid() {
    let labels = [("bad-label", "v"), ("9th", "w"), ("a:b", "x")];
    let text = encode_text(&[Sample::counter("http.requests-total", 1.0).with_labels(&labels)]);
    assert_eq!(
        text,
        "# TYPE http_requests_total counter\n\
         http_requests_total{bad_label=\"v\",_9th=\"w\",a_b=\"x\"} 1\n"
    );
    assert_eq!(
        encode_text(&[Sample::gauge("1st:ok", 0.0)]),
        "# TYPE _1st:ok gauge\n_1st:ok 0\n"
    );
    assert_eq!(
        encode_text(&[Sample::gauge("", 0.0)]),
        "# TYPE _ gauge\n_ 0\n"
    );
}

#[test]
fn values_round_trip_through_their_text() {
    let cases: [(f64, &str); 14] = [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-42.0, "-42"),
        (0.1, "0.1"),
        (123_456_789.125, "123456789.125"),
        (9_007_199_254_740_992.0, "9.007199254740992e15"),
        (1e15, "1e15"),
        (1e300, "1e300"),
        (1.5e-7, "1.5e-7"),
        (0.0001, "0.0001"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for (v, text) in cases {
        let written = format_value(v);
        assert_eq!(written, text, "{v}");
        let back: f64 = match written.as_str() {
            "+Inf" => f64::INFINITY,
            s => s.parse().unwrap(),
        };
        assert!(
            back == v || (v.is_nan() && back.is_nan()),
            "{v} -> {written} -> {back}"
        );
    }
    assert_eq!(format_value(f64::MAX), "1.7976931348623157e308");
    assert_eq!(format_value(f64::MIN_POSITIVE), "2.2250738585072014e-308");
}

#[test]
fn writing_to_any_formatter_and_nothing_at_all() {
    let mut out = String::new();
    write_text(&mut out, &[]).unwrap();
    assert_eq!(out, "");
    assert_eq!(encode_text(&[]), "");
}

#[test]
fn health_report_shape_and_overall_status() {
    let breaker = [
        ("state", Detail::Str("open")),
        ("failures", Detail::UInt(5)),
        ("delta", Detail::Int(-3)),
        ("failure_rate", Detail::Float(0.625)),
        ("forced", Detail::Bool(false)),
    ];
    let json = health_json(&[
        Component::new("payments", Status::Up),
        Component::new("authors", Status::Down).with_details(&breaker),
        Component::new("email", Status::Degraded),
    ]);
    assert_eq!(
        json,
        concat!(
            r#"{"status":"DOWN","components":{"#,
            r#""payments":{"status":"UP"},"#,
            r#""authors":{"status":"DOWN","details":{"state":"open","failures":5,"delta":-3,"#,
            r#""failure_rate":0.625,"forced":false}},"#,
            r#""email":{"status":"DEGRADED"}}}"#
        )
    );
    assert_eq!(health_json(&[]), r#"{"status":"UP","components":{}}"#);
    let up_and_degraded = [
        Component::new("a", Status::Degraded),
        Component::new("b", Status::Up),
    ];
    assert_eq!(overall_status(&up_and_degraded), Status::Degraded);
}

#[test]
fn health_report_escapes_strings_and_nulls_non_finite_numbers() {
    let details = [
        (
            "quote\"back\\slash",
            Detail::Str("tab\tnl\ncr\rbell\u{7}nul\u{0}"),
        ),
        ("nan", Detail::Float(f64::NAN)),
        ("inf", Detail::Float(f64::INFINITY)),
        ("big", Detail::Float(1e300)),
        ("one", Detail::Float(1.0)),
        ("unicode", Detail::Str("é ✓ \u{2028}")),
    ];
    let json = health_json(&[Component::new("x/\"y\"", Status::Up).with_details(&details)]);
    assert_eq!(
        json,
        concat!(
            r#"{"status":"UP","components":{"x/\"y\"":{"status":"UP","details":{"#,
            r#""quote\"back\\slash":"tab\tnl\ncr\rbell\u0007nul\u0000","nan":null,"#,
            r#""inf":null,"big":1e300,"one":1.0,"unicode":"é ✓ "#,
            "\u{2028}",
            r#""}}}}"#
        )
    );
}
