//! 4. Identity-bound client ids; 5. the seq range; 6. read-only before duplicate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_are_bound_to_the_user_so_nobody_can_preempt_a_seq() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (sec, _) = section(&snap, "Exposure scope")?;
    let priya_tok = server.member("reviewer/privacy").token.clone();
    let lena_tok = server.member("reviewer/support-trust").token.clone();
    let priya_id = server.member("reviewer/privacy").user.to_string();

    let claimed = ClientId::new();
    let mut victim = WsClient::connect_as(&server.url, &priya_tok, Some(claimed)).await?;
    let bound = victim.client_id;
    ensure!(bound != claimed, "the welcome returned the claimed client id {claimed}: it is not bound to the user");
    victim.join(&room).await?;
    let object = |seq: u64, text: &str| json!({"type": "object", "room": room, "section": sec, "kind": "wording", "text": text, "seq": seq});
    let first = victim.ok(object(1, "Say 'visible' rather than 'displayed'.")).await?;
    ensure!(first["duplicate"] == false);

    // The attacker claims the victim's claimed id, then its bound id (seen
    // in every event), and spends the victim's next seq with each.
    let mut ids = Vec::new();
    for stolen in [claimed, bound] {
        let mut attacker = WsClient::connect_as(&server.url, &lena_tok, Some(stolen)).await?;
        ensure!(attacker.client_id != bound, "the attacker got the victim's bound client id {bound}");
        ensure!(attacker.client_id != stolen, "the attacker's claimed id {stolen} was not rebound");
        let ack = attacker.ok(object(2, "Pre-empting seq 2.")).await?;
        ensure!(ack["duplicate"] == false, "the attacker's own request was taken for a duplicate: {ack}");
        ids.push(attacker.client_id);
    }

    // The victim's next change is applied and broadcast normally.
    let text = "The exposure window is 09:17–09:28 UTC.";
    let ack = victim.ok(object(2, text)).await?;
    ensure!(ack["duplicate"] == false, "the victim's seq 2 came back as a duplicate: {ack}");
    ensure!(ack["created"].is_string(), "the victim's objection was not created: {ack}");
    let rev = ack["revision"].as_u64().context("revision")?;
    let ev = observer
        .wait_for(|v| v["type"] == "event" && v["rev"]["revision"] == rev, T)
        .await
        .context("the victim's change was not broadcast")?;
    ensure!(ev["rev"]["author"] == priya_id.as_str(), "wrong author: {ev}");
    ensure!(
        ev["rev"]["client"]["client"] == json!(bound) && ev["rev"]["client"]["seq"] == 2,
        "wrong client stamp: {ev}"
    );
    ensure!(ev["rev"]["change"]["objection"]["text"] == text, "wrong change: {ev}");
    // A real resend still deduplicates, also from a reconnect with the same claimed id.
    let again = victim.ok(object(2, text)).await?;
    ensure!(again["duplicate"] == true && again["revision"] == rev, "resend: {again}");
    let mut back = WsClient::connect_as(&server.url, &priya_tok, Some(claimed)).await?;
    ensure!(back.client_id == bound, "a reconnect with the same claimed id got another bound id");
    let again = back.ok(object(2, text)).await?;
    ensure!(again["duplicate"] == true && again["revision"] == rev, "resend after reconnect: {again}");
    ensure!(ids.iter().all(|i| *i != bound));

    observer.ok(json!({"type": "ping"})).await?;
    assert_no_restricted(observer.captured(), &all_patterns(), "ari.observer");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_above_i64_max_is_invalid_and_the_maximum_survives_a_restart() -> Result<()> {
    const MAX: u64 = i64::MAX as u64;
    let mut server = TestServer::start().await?;
    let room = server.room();
    let (mut lena, snap) = server.joined("reviewer/support-trust").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (sec, _) = section(&snap, "Chronology")?;
    let lena_id = server.member("reviewer/support-trust").user.to_string();
    let object = |seq: Value, text: String| json!({"type": "object", "room": room, "section": sec, "kind": "other", "text": text, "seq": seq});

    // A hostile member pipelines bad seqs while another works: the bad ones
    // are refused at parse time, the good ones all land.
    let bad_seqs = [json!(MAX + 1), json!(u64::MAX), json!(MAX + 12_345), json!(-1)];
    let bad = async {
        let mut sent = Vec::new();
        for i in 0..40 {
            let seq = bad_seqs[i % bad_seqs.len()].clone();
            sent.push((lena.send_request(object(seq.clone(), format!("bad {i}"))).await?, seq));
        }
        for (id, seq) in sent {
            let (_, answer) = lena.await_answer_text(&id).await?;
            ensure!(answer["type"] == "error" && answer["code"] == "invalid", "seq {seq} should be invalid: {answer}");
            ensure!(answer["id"] == id.as_str(), "the refusal lost the request id: {answer}");
        }
        anyhow::Ok(())
    };
    let good = async {
        let mut sent = Vec::new();
        for i in 0..40u64 {
            sent.push(priya.send_request(object(json!(i + 1), format!("good {i}"))).await?);
        }
        for id in sent {
            let (_, answer) = priya.await_answer_text(&id).await?;
            ensure!(
                answer["type"] == "ok" && answer["result"]["duplicate"] == false,
                "a good request failed: {answer}"
            );
        }
        anyhow::Ok(())
    };
    tokio::try_join!(bad, good)?;
    let chain = server.audit_chain(&room).await?;
    let audited =
        chain.iter().filter(|e| e.actor == lena_id && e.kind == "refused" && e.detail["request"] == "object").count();
    ensure!(audited == 0, "{audited} bad-seq refusals reached the room (expected a parse-time refusal)");

    // 2^63−1 is valid, is deduplicated, and still is after a restart.
    let claimed = ClientId::new();
    let token = server.member("reviewer/legal").token.clone();
    let mut daniel = WsClient::connect_as(&server.url, &token, Some(claimed)).await?;
    let bound = daniel.client_id;
    let text = "Say 'no payment fields are part of this view'.".to_string();
    let first = daniel.ok(object(json!(MAX), text.clone())).await?;
    ensure!(first["duplicate"] == false, "{first}");
    let rev = first["revision"].as_u64().context("revision")?;
    let again = daniel.ok(object(json!(MAX), text.clone())).await?;
    ensure!(again["duplicate"] == true && again["revision"] == rev, "resend before the restart: {again}");
    drop(daniel);
    drop(lena);
    drop(priya);
    server.restart().await?;
    let mut daniel = WsClient::connect_as(&server.url, &token, Some(claimed)).await?;
    ensure!(daniel.client_id == bound, "the bound client id changed across a restart");
    let snap = daniel.join(&room).await?;
    let stored = server.stored_revision().await?;
    ensure!(snap["applied_seq"] == json!(MAX), "applied_seq after the restart: {}", snap["applied_seq"]);
    let after = daniel.ok(object(json!(MAX), text)).await?;
    ensure!(after["duplicate"] == true && after["revision"] == rev, "resend of seq 2^63−1 after the restart: {after}");
    ensure!(server.stored_revision().await? == stored, "the resend after the restart stored something");
    for seq in [json!(MAX + 1), json!(u64::MAX)] {
        daniel.refused(object(seq, "after restart".into()), "invalid").await?;
    }
    // Beyond u64 too (raw frame: not representable in a JSON value here).
    let raw = object(json!(0), "beyond u64".into()).to_string().replace("\"seq\":0", "\"seq\":18446744073709551616");
    let raw = raw.replacen('{', "{\"id\":\"big\",", 1);
    daniel.send_raw(&raw).await?;
    let (_, answer) = daniel.await_answer_text("big").await?;
    ensure!(answer["code"] == "invalid", "seq 2^64: {answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalated_room_answers_a_resend_read_only_not_duplicate() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut priya, snap) = server.joined("reviewer/privacy").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (sec, _) = section(&snap, "Summary")?;
    let req =
        json!({"type": "object", "room": room, "section": sec, "kind": "wording", "text": "Say 'visible'.", "seq": 7});
    let first = priya.ok(req.clone()).await?;
    ensure!(first["duplicate"] == false);
    let dup = priya.ok(req.clone()).await?;
    ensure!(dup["duplicate"] == true, "sanity: a resend before escalation is a duplicate: {dup}");
    owner
        .ok(json!({"type": "escalate", "room": room, "reason": "Exposure may include a third tenant; direct handling."}))
        .await?;
    let before = server.stored_revision().await?;
    let answer = priya.request(req).await?;
    ensure!(
        answer["type"] == "error" && answer["code"] == "read_only",
        "a resend of an applied seq in an escalated room must be read_only, got {answer}"
    );
    priya
        .refused(
            json!({"type": "object", "room": room, "section": sec, "kind": "wording", "text": "New.", "seq": 8}),
            "read_only",
        )
        .await?;
    ensure!(server.stored_revision().await? == before, "something was stored in the escalated room");
    // Reads still work.
    priya.join(&room).await?;
    Ok(())
}
