//! Deciding whether a macro name refers to `tracing` or `log`.
//!
//! Other crates have macros named `info!` too (`defmt`, local
//! `macro_rules!`), so a bare name is only linted when this file brings it in
//! from `tracing` or `log`: `use tracing::info;`, `use log::{info as i};`,
//! `use tracing::*;`, or `#[macro_use] extern crate log;` (in this file, or in
//! a crate root above it when a directory is linted). A bare name with none
//! of these is left alone, because nothing says which crate it is from.

use std::collections::{HashMap, HashSet};

use syn::visit::Visit;
use syn::{ItemExternCrate, ItemMacro, ItemUse, UseTree};

use super::grammar::{log_macro, tracing_macro, Flavor};

/// Which of `tracing` and `log` something applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct FlavorSet {
    pub(super) tracing: bool,
    pub(super) log: bool,
}

impl FlavorSet {
    pub(super) fn insert(&mut self, flavor: Flavor) {
        match flavor {
            Flavor::Tracing => self.tracing = true,
            Flavor::Log => self.log = true,
        }
    }

    pub(super) fn union(self, other: FlavorSet) -> FlavorSet {
        FlavorSet {
            tracing: self.tracing || other.tracing,
            log: self.log || other.log,
        }
    }

    pub(super) fn is_empty(self) -> bool {
        !self.tracing && !self.log
    }

    fn contains(self, flavor: Flavor) -> bool {
        match flavor {
            Flavor::Tracing => self.tracing,
            Flavor::Log => self.log,
        }
    }
}

/// What a macro path resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved {
    /// A `tracing` or `log` macro, by its original name.
    Macro(Flavor, &'static str),
    /// `tracing`'s `#[instrument]`.
    Instrument,
}

/// The imports of one file.
#[derive(Debug, Default)]
pub(super) struct Imports {
    /// Names imported one by one: the local name, and the crate and original
    /// name when it comes from `tracing` or `log` (`None` for other crates,
    /// whose names shadow glob imports).
    named: HashMap<String, Option<(Flavor, String)>>,
    globs: FlavorSet,
    macro_use: FlavorSet,
    /// `tracing` and `log` under other names (`use tracing as t;`).
    crate_aliases: HashMap<String, Flavor>,
    /// Macros this file defines with `macro_rules!`, which shadow imports.
    local_macros: HashSet<String>,
}

impl Imports {
    /// Collects the imports of `file`, adding the `#[macro_use]` crates
    /// declared in a crate root above it.
    pub(super) fn collect(file: &syn::File, inherited_macro_use: FlavorSet) -> Imports {
        let mut imports = Imports {
            macro_use: inherited_macro_use,
            ..Imports::default()
        };
        imports.visit_file(file);
        imports
    }

    /// The crates this file itself brings in with `#[macro_use] extern crate`.
    pub(super) fn declared_macro_use(file: &syn::File) -> FlavorSet {
        Imports::collect(file, FlavorSet::default()).macro_use
    }

    /// Resolves the path of a macro invocation or attribute.
    pub(super) fn resolve(&self, segments: &[String]) -> Option<Resolved> {
        match segments {
            [name] => self.resolve_bare(name),
            [krate, name] => match self.crate_flavor(krate)? {
                Flavor::Tracing if name == "instrument" => Some(Resolved::Instrument),
                flavor => known_macro(flavor, name),
            },
            [krate, middle, name] if middle == "log" => (self.crate_flavor(krate)?
                == Flavor::Tracing)
                .then(|| known_macro(Flavor::Log, name))
                .flatten(),
            _ => None,
        }
    }

    fn resolve_bare(&self, name: &str) -> Option<Resolved> {
        if self.local_macros.contains(name) {
            return None;
        }
        if let Some(imported) = self.named.get(name) {
            let (flavor, original) = imported.as_ref()?;
            if *flavor == Flavor::Tracing && original == "instrument" {
                return Some(Resolved::Instrument);
            }
            return known_macro(*flavor, original);
        }
        let available = self.globs.union(self.macro_use);
        if name == "instrument" {
            return available.tracing.then_some(Resolved::Instrument);
        }
        [Flavor::Tracing, Flavor::Log]
            .into_iter()
            .filter(|flavor| available.contains(*flavor))
            .find_map(|flavor| known_macro(flavor, name))
    }

    fn crate_flavor(&self, name: &str) -> Option<Flavor> {
        match name {
            "tracing" | "tracing_attributes" => Some(Flavor::Tracing),
            "log" => Some(Flavor::Log),
            other => self.crate_aliases.get(other).copied(),
        }
    }

    /// Records one `use` tree below `prefix`.
    fn add_use_tree(&mut self, prefix: &mut Vec<String>, tree: &UseTree) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.add_use_tree(prefix, &path.tree);
                prefix.pop();
            }
            UseTree::Name(name) => {
                let name = name.ident.to_string();
                if name == "self" {
                    if let Some(last) = prefix.last().cloned() {
                        self.add_import(prefix, None, last);
                    }
                } else {
                    self.add_import(prefix, Some(name.clone()), name);
                }
            }
            UseTree::Rename(rename) => {
                let original = rename.ident.to_string();
                let local = rename.rename.to_string();
                if original == "self" {
                    self.add_import(prefix, None, local);
                } else {
                    self.add_import(prefix, Some(original), local);
                }
            }
            UseTree::Glob(_) => {
                if let Some(flavor) = self.module_flavor(prefix) {
                    self.globs.insert(flavor);
                }
            }
            UseTree::Group(group) => {
                for item in &group.items {
                    self.add_use_tree(prefix, item);
                }
            }
        }
    }

    /// Records `use prefix::original as local;` (`original` is `None` when the
    /// prefix itself is imported, as in `use tracing::{self as t};`).
    fn add_import(&mut self, prefix: &[String], original: Option<String>, local: String) {
        let Some(original) = original else {
            if let Some(flavor) = self.module_flavor(prefix) {
                self.crate_aliases.insert(local, flavor);
            }
            return;
        };
        if prefix.is_empty() {
            // `use tracing as t;` imports a crate under another name.
            if let Some(flavor) = self.crate_flavor(&original) {
                self.crate_aliases.insert(local, flavor);
            }
            return;
        }
        let origin = self
            .module_flavor(prefix)
            .map(|flavor| (flavor, original.clone()));
        let slot = self.named.entry(local).or_insert(None);
        // An import from `tracing` or `log` wins over one from another crate
        // of the same name elsewhere in the file, as it states intent.
        if slot.is_none() {
            *slot = origin;
        }
    }

    /// The crate a module path such as `tracing` or `tracing::log` names.
    fn module_flavor(&self, path: &[String]) -> Option<Flavor> {
        let path = match path.first().map(String::as_str) {
            Some("crate" | "self" | "super") => return None,
            _ => path,
        };
        match path {
            [krate] => self.crate_flavor(krate),
            [krate, middle] if middle == "log" => {
                (self.crate_flavor(krate)? == Flavor::Tracing).then_some(Flavor::Log)
            }
            _ => None,
        }
    }
}

fn known_macro(flavor: Flavor, name: &str) -> Option<Resolved> {
    let original = match flavor {
        Flavor::Tracing => tracing_macro(name).map(|(_, _, original)| original),
        Flavor::Log => log_macro(name).map(|(_, original)| original),
    }?;
    Some(Resolved::Macro(flavor, original))
}

impl<'ast> Visit<'ast> for Imports {
    fn visit_item_use(&mut self, item: &'ast ItemUse) {
        self.add_use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_item_extern_crate(&mut self, item: &'ast ItemExternCrate) {
        let name = item.ident.to_string();
        let Some(flavor) = self.crate_flavor(&name) else {
            return;
        };
        if let Some((_, alias)) = &item.rename {
            self.crate_aliases.insert(alias.to_string(), flavor);
        }
        if item
            .attrs
            .iter()
            .any(|attr| attr.path().is_ident("macro_use"))
        {
            self.macro_use.insert(flavor);
        }
    }

    fn visit_item_macro(&mut self, item: &'ast ItemMacro) {
        if let (true, Some(name)) = (item.mac.path.is_ident("macro_rules"), &item.ident) {
            self.local_macros.insert(name.to_string());
        }
    }
}
