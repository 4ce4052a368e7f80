//! `waci/spin-http`: a service whose handler never answers. It prints `spinning on <path>`,
//! then burns CPU forever without setting a response, so tests can check that the platform
//! cuts the request off (504) and keeps serving the rest of the group.

use std::hint::black_box;

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wasip2::http::proxy::export!(SpinHttp);

struct SpinHttp;

impl wasip2::exports::http::incoming_handler::Guest for SpinHttp {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        println!("spinning on {path}");
        // The outparam stays alive (unset) for the whole loop: dropping it would let the
        // host answer at once, and the point is that only the platform's deadline can.
        let _response_out = response_out;
        // Pure CPU work with no host calls; black_box keeps the optimiser from deleting it.
        let mut x: u64 = 1;
        loop {
            x = black_box(
                x.wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407),
            );
        }
    }
}
