//! What the model is given of a message's files: how images reach it
//! (`agent.image_input_mode`, `model.supports_vision`), the vision model
//! that describes them when it cannot see (`auxiliary.vision`, as in
//! Hermes), and hermod's own caps (`media:`).

use super::Model;
use hermod_media::{DEFAULT_DOCUMENT_MAX_CHARS, DEFAULT_MAX_IMAGE_EDGE, ImageInput};
use hermod_model::Secret;
use serde::Deserialize;

/// `agent.image_input_mode`, Hermes' spelling: `auto` sends images as
/// image parts unless `model.supports_vision` is false, `native` always
/// does, `text` never does (a vision model describes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageInputMode {
    #[default]
    Auto,
    Native,
    Text,
}

/// The `media:` section: limits on what is given to the model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// Images are scaled down so their longest edge is at most this many
    /// pixels.
    pub max_image_edge: u32,
    /// The most characters of one document's text given to the model.
    pub document_max_chars: usize,
}

impl Default for MediaSection {
    fn default() -> Self {
        Self {
            max_image_edge: DEFAULT_MAX_IMAGE_EDGE,
            document_max_chars: DEFAULT_DOCUMENT_MAX_CHARS,
        }
    }
}

/// The `auxiliary:` section (Hermes' models for side tasks); hermod uses
/// its `vision` model.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuxiliarySection {
    pub vision: VisionSection,
}

/// `auxiliary.vision`: the model that describes images when the main
/// model cannot see them, and stickers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionSection {
    /// The vision model; unset means none (images are only named when the
    /// main model cannot see).
    pub model: Option<String>,
    /// Its endpoint's base URL; the model endpoint's when unset.
    pub base_url: Option<String>,
    /// Its key; the model's key when unset.
    pub api_key: Option<Secret>,
    /// How long one description may take, in seconds (Hermes' `timeout`).
    pub timeout: u64,
}

impl Default for VisionSection {
    fn default() -> Self {
        Self {
            model: None,
            base_url: None,
            api_key: None,
            timeout: 30,
        }
    }
}

/// The model that describes images, resolved.
#[derive(Debug, Clone)]
pub struct VisionModel {
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub model: String,
    pub timeout_secs: u64,
}

/// Everything about files, resolved.
#[derive(Debug, Clone)]
pub struct Media {
    pub images: ImageInput,
    /// Describes images the main model cannot see, and stickers: the
    /// configured vision model, else the main model when it can see.
    pub describer: Option<VisionModel>,
    pub max_image_edge: u32,
    pub document_max_chars: usize,
}

impl Media {
    pub(super) fn resolve(
        mode: ImageInputMode,
        supports_vision: Option<bool>,
        media: &MediaSection,
        vision: &VisionSection,
        model: &Model,
    ) -> Self {
        let images = match (mode, supports_vision) {
            (ImageInputMode::Native, _) => ImageInput::Native,
            (ImageInputMode::Text, _) | (ImageInputMode::Auto, Some(false)) => ImageInput::Text,
            (ImageInputMode::Auto, _) => ImageInput::Native,
        };
        let configured = vision
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|name| VisionModel {
                base_url: vision
                    .base_url
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map_or_else(|| model.base_url.clone(), str::to_owned),
                api_key: vision.api_key.clone().or_else(|| model.api_key.clone()),
                model: name.to_owned(),
                timeout_secs: vision.timeout,
            });
        let describer = configured.or_else(|| {
            (images == ImageInput::Native).then(|| VisionModel {
                base_url: model.base_url.clone(),
                api_key: model.api_key.clone(),
                model: model.default.clone(),
                timeout_secs: vision.timeout,
            })
        });
        Self {
            images,
            describer,
            max_image_edge: media.max_image_edge,
            document_max_chars: media.document_max_chars,
        }
    }

    /// Every value problem serde cannot see.
    pub(super) fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(64..=8192).contains(&self.max_image_edge) {
            problems.push(format!(
                "media.max_image_edge must be between 64 and 8192 pixels, got {}",
                self.max_image_edge
            ));
        }
        if self.document_max_chars == 0 {
            problems.push("media.document_max_chars must be at least 1".to_owned());
        }
        if let Some(vision) = &self.describer {
            let url = vision.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!(
                    "auxiliary.vision.base_url must start with http:// or https://, got {url:?}"
                ));
            }
        }
        problems
    }
}
