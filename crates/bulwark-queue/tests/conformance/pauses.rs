//! `Pauses`: destinations paused by a 410 Gone, until resumed, across restarts.

use bulwark_queue::store::{Pause, Pauses};

use super::{Backend, T0};

fn pause(destination: &str, since_ms: i64, reason: &str) -> Pause {
    Pause {
        destination: destination.into(),
        since_ms,
        reason: reason.into(),
    }
}

pub async fn pause_is_idempotent_and_keeps_the_first_reason_and_time<B: Backend>(b: &B) {
    let store = b.open().await;
    assert!(store.paused().await.unwrap().is_empty());
    store.pause("app", "410 Gone".into(), T0).await.unwrap();
    store
        .pause("app", "410 again".into(), T0 + 5)
        .await
        .unwrap();
    assert_eq!(
        store.paused().await.unwrap(),
        [pause("app", T0, "410 Gone")]
    );
}

pub async fn resume_says_whether_the_destination_was_paused<B: Backend>(b: &B) {
    let store = b.open().await;
    assert!(!store.resume("app").await.unwrap(), "never paused");
    store.pause("app", "410 Gone".into(), T0).await.unwrap();
    store.pause("other", "410 Gone".into(), T0).await.unwrap();
    assert!(store.resume("app").await.unwrap());
    assert!(!store.resume("app").await.unwrap(), "already resumed");
    assert_eq!(
        store.paused().await.unwrap(),
        [pause("other", T0, "410 Gone")]
    );
    // Paused again after a resume: a new pause, with its own time and reason.
    store
        .pause("app", "410 later".into(), T0 + 9)
        .await
        .unwrap();
    assert_eq!(
        store.paused().await.unwrap(),
        [
            pause("app", T0 + 9, "410 later"),
            pause("other", T0, "410 Gone")
        ]
    );
}

pub async fn paused_lists_every_destination_by_name<B: Backend>(b: &B) {
    let store = b.open().await;
    for (i, name) in ["m", "b", "z", "a"].into_iter().enumerate() {
        let reason = format!("410 Gone: {{\"error\": \"{name}\"}}\n");
        store.pause(name, reason, T0 + i as i64).await.unwrap();
    }
    let paused = store.paused().await.unwrap();
    let names: Vec<&str> = paused.iter().map(|p| p.destination.as_str()).collect();
    assert_eq!(names, ["a", "b", "m", "z"]);
    assert_eq!(paused[2], pause("m", T0, "410 Gone: {\"error\": \"m\"}\n"));
}

pub async fn pauses_survive_a_restart<B: Backend>(b: &B) {
    let store = b.open().await;
    store.pause("app", "410 Gone".into(), T0).await.unwrap();
    store
        .pause("gone", "410 Gone".into(), T0 + 1)
        .await
        .unwrap();
    assert!(store.resume("gone").await.unwrap());
    drop(store);

    let store = b.open().await;
    assert_eq!(
        store.paused().await.unwrap(),
        [pause("app", T0, "410 Gone")]
    );
    // The first pause's time and reason still win after the restart.
    store
        .pause("app", "410 again".into(), T0 + 5)
        .await
        .unwrap();
    assert_eq!(
        store.paused().await.unwrap(),
        [pause("app", T0, "410 Gone")]
    );
    assert!(store.resume("app").await.unwrap());
    drop(store);

    let store = b.open().await;
    assert!(store.paused().await.unwrap().is_empty());
}
