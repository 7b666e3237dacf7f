//! Finds the actor of a room or user, activating it from the store on first use.
//!
//! The maps are behind a mutex rather than inside an actor: a lookup is a hash probe, and the
//! mutex makes "exactly one actor per ID" a matter of checking and inserting under one lock.

use super::room::RoomActor;
use super::user::UserActor;
use crate::Services;
use crate::error::{Error, Result};
use actix::prelude::*;
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Directory {
    rooms: Mutex<HashMap<OwnedRoomId, Addr<RoomActor>>>,
    users: Mutex<HashMap<OwnedUserId, Addr<UserActor>>>,
    arbiters: Vec<ArbiterHandle>,
    next: AtomicUsize,
    /// Counts actor activations, so tests can tell one activation from two.
    pub room_activations: AtomicUsize,
    /// Actors started and stopped so far: memory was taken or given back.
    churn: AtomicUsize,
}

impl Directory {
    /// Actors run on their own arbiters (one per core), not on the HTTP workers, so they
    /// outlive any one worker and spread over the cores.
    pub fn new(threads: usize) -> Self {
        let arbiters = (0..threads.max(1)).map(|_| Arbiter::new().handle()).collect();
        Self {
            rooms: Mutex::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
            arbiters,
            next: AtomicUsize::new(0),
            room_activations: AtomicUsize::new(0),
            churn: AtomicUsize::new(0),
        }
    }

    fn arbiter(&self) -> &ArbiterHandle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        &self.arbiters[i]
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The actor of an existing room; 404 if the store does not know the room.
    pub async fn room(&self, svc: &Arc<Services>, id: &RoomId) -> Result<Addr<RoomActor>> {
        if let Some(a) = Self::lock(&self.rooms).get(id).filter(|a| a.connected()) {
            return Ok(a.clone());
        }
        let key = id.as_str().to_owned();
        let exists = svc.db.run(move |c| Ok(crate::store::rooms::room_row(c, &key)?.is_some())).await?;
        if !exists {
            return Err(Error::not_found("Unknown room"));
        }
        Ok(self.activate_room(svc, id, false))
    }

    /// Starts the actor of a room that is being created now.
    pub fn new_room(&self, svc: &Arc<Services>, room_id: &RoomId) -> Addr<RoomActor> {
        self.activate_room(svc, room_id, true)
    }

    fn activate_room(&self, svc: &Arc<Services>, room_id: &RoomId, is_new: bool) -> Addr<RoomActor> {
        let mut rooms = Self::lock(&self.rooms);
        if let Some(a) = rooms.get(room_id).filter(|a| a.connected()) {
            return a.clone();
        }
        self.room_activations.fetch_add(1, Ordering::Relaxed);
        self.churn.fetch_add(1, Ordering::Relaxed);
        svc.metrics.activations.get_or_create(&crate::metrics::ActorLabels { kind: "room" }).inc();
        let actor = RoomActor::new(room_id.to_owned(), svc.clone(), is_new);
        let addr = RoomActor::start_in_arbiter(self.arbiter(), move |_| actor);
        rooms.insert(room_id.to_owned(), addr.clone());
        addr
    }

    /// Forgets the room's actor if it is still `addr` (passivation, death, purge).
    pub fn forget_room(&self, room_id: &RoomId, addr: &Addr<RoomActor>) {
        let mut rooms = Self::lock(&self.rooms);
        if rooms.get(room_id).is_some_and(|a| a == addr) {
            rooms.remove(room_id);
            self.churn.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stops every actor's arbiter (and with them the actors and their timers): a stopped
    /// server's actors must not keep running beside a new server on the same database.
    pub fn stop(&self) {
        Self::lock(&self.rooms).clear();
        Self::lock(&self.users).clear();
        for a in &self.arbiters {
            a.stop();
        }
    }

    /// How many actors have started or stopped since the server started.
    pub fn churn(&self) -> usize {
        self.churn.load(Ordering::Relaxed)
    }

    pub fn active_rooms(&self) -> usize {
        Self::lock(&self.rooms).len()
    }

    pub fn active_users(&self) -> usize {
        Self::lock(&self.users).len()
    }

    /// The actor of an existing local user; 404 if unknown.
    pub async fn user(&self, svc: &Arc<Services>, id: &UserId) -> Result<Addr<UserActor>> {
        if let Some(a) = Self::lock(&self.users).get(id).filter(|a| a.connected()) {
            return Ok(a.clone());
        }
        let key = id.as_str().to_owned();
        let exists = svc.db.run(move |c| crate::store::users::exists(c, &key)).await?;
        if !exists {
            return Err(Error::not_found("Unknown user"));
        }
        let mut users = Self::lock(&self.users);
        if let Some(a) = users.get(id).filter(|a| a.connected()) {
            return Ok(a.clone());
        }
        svc.metrics.activations.get_or_create(&crate::metrics::ActorLabels { kind: "user" }).inc();
        self.churn.fetch_add(1, Ordering::Relaxed);
        let actor = UserActor::new(id.to_owned(), svc.clone());
        let addr = UserActor::start_in_arbiter(self.arbiter(), move |_| actor);
        users.insert(id.to_owned(), addr.clone());
        Ok(addr)
    }

    /// The user's actor only if it is active: for notifications that an inactive actor will
    /// read from the store when it activates anyway.
    pub fn active_user(&self, user_id: &UserId) -> Option<Addr<UserActor>> {
        Self::lock(&self.users).get(user_id).filter(|a| a.connected()).cloned()
    }

    pub fn forget_user(&self, user_id: &UserId, addr: &Addr<UserActor>) {
        let mut users = Self::lock(&self.users);
        if users.get(user_id).is_some_and(|a| a == addr) {
            users.remove(user_id);
            self.churn.fetch_add(1, Ordering::Relaxed);
        }
    }
}
